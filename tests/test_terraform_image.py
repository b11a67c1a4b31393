"""terraform/'s baked gpu-node image (modules/image, EC2 Image Builder): the launch template
resolves the parameter Image Builder publishes, the build instance requires IMDSv2, everything
is encrypted with the fleet's key, old images go with their snapshots, and the deploy bakes only
when the bake hash changes."""

from __future__ import annotations

import yaml

from fleetlib.paths import REPO
from tests.hcl import load


def test_the_launch_template_resolves_the_parameter_image_builder_publishes() -> None:
    config = load()
    image = config.modules["image"]
    assert image["image_parameter"] == "${local.image_parameter}"
    assert config.locals[".:image_parameter"] == "/${var.project}/${var.environment}/image/gpu-node"
    fleet = config.modules["fleet"]
    assert fleet["image_parameter"] == '${var.baked_image ? module.image[0].image_parameter : ""}'
    assert config.locals["modules/fleet:ami_id"].startswith(
        '${(var.image_parameter != "" ? "resolve:ssm:${var.image_parameter}"'
    )
    template = config.one("aws_launch_template", "this")
    assert template.module == "modules/fleet" and template.body["image_id"] == "${local.ami_id}"
    # Image Builder writes the AMI id into that very parameter, which exists from the start.
    (distribution,) = config.one("aws_imagebuilder_distribution_configuration", "this").body[
        "distribution"
    ]
    (published,) = distribution["ssm_parameter_configuration"]
    assert published == {"parameter_name": "${var.image_parameter}", "data_type": "aws:ec2:image"}
    parameter = config.one("aws_ssm_parameter", "image").body
    assert parameter["name"] == "${var.image_parameter}"
    assert parameter["lifecycle"][0]["ignore_changes"] in (["value"], ["${value}"])
    assert config.default("baked_image") is True


def test_the_build_instance_requires_imdsv2_and_all_is_encrypted_with_the_fleet_key() -> None:
    config = load()
    infrastructure = config.one("aws_imagebuilder_infrastructure_configuration", "this").body
    assert infrastructure["instance_metadata_options"] == [
        {"http_tokens": "required", "http_put_response_hop_limit": 1}
    ]
    assert infrastructure["terminate_instance_on_failure"] is True
    assert infrastructure["subnet_id"] == "${var.subnet_id}"
    assert config.modules["image"]["subnet_id"] == "${module.network.private_subnet_ids[0]}"
    recipe = config.one("aws_imagebuilder_image_recipe", "gpu_node").body
    (mapping,) = recipe["block_device_mapping"]
    (ebs,) = mapping["ebs"]
    assert ebs["encrypted"] is True and ebs["kms_key_id"] == "${var.kms_key_arn}"
    (distribution,) = config.one("aws_imagebuilder_distribution_configuration", "this").body[
        "distribution"
    ]
    assert distribution["ami_distribution_configuration"][0]["kms_key_id"] == "${var.kms_key_arn}"
    assert config.one("aws_imagebuilder_component", "bake").body["kms_key_id"] == (
        "${var.kms_key_arn}"
    )


def test_old_images_are_deleted_with_their_snapshots_beyond_the_retention_count() -> None:
    config = load()
    policy = config.one("aws_imagebuilder_lifecycle_policy", "gpu_node").body
    (detail,) = policy["policy_detail"]
    assert detail["action"] == [
        {"type": "DELETE", "include_resources": [{"amis": True, "snapshots": True}]}
    ]
    assert detail["filter"] == [{"type": "COUNT", "value": "${var.retain_count}"}]
    # It selects what the pipeline makes: the images carry the pipeline's tags.
    pipeline = config.one("aws_imagebuilder_image_pipeline", "gpu_node").body
    assert policy["resource_selection"] == [{"tag_map": "${local.tags}"}]
    assert pipeline["tags"] == "${local.tags}"
    assert "schedule" not in pipeline, "the deploy starts it, when the bake hash changes"
    assert config.default("image_retain_count") >= 2


def test_the_build_role_reads_releases_and_writes_its_log_only() -> None:
    config = load()
    build = next(d for d in config.data if d.module == "modules/image" and d.name == "build")
    granted = {
        action: statement["resources"]
        for statement in build.body["statement"]
        for action in statement["actions"]
    }
    assert granted == {
        "s3:GetObject": ["${var.release_bucket_arn}/releases/*"],
        "s3:PutObject": ["${var.release_bucket_arn}/image-builder/*"],
        "ssm:GetParameter": ["${var.release_parameter_arn}"],
        "kms:Decrypt": ["${var.kms_key_arn}"],
        "kms:GenerateDataKey": ["${var.kms_key_arn}"],
    }


def test_the_component_bakes_the_published_release_with_the_bake_step() -> None:
    component = (REPO / "terraform/modules/image/component.yml.tftpl").read_text()
    assert "host_apply.py fetch ${prefix}" in component
    assert "python3 -m tools.image_bake --inventory ${inventory}" in component
    # The recipe's and component's names carry the procedure's hash (they are immutable).
    config = load()
    assert "${local.procedure}" in config.one("aws_imagebuilder_component", "bake").body["name"]
    assert (
        "${local.procedure}" in config.one("aws_imagebuilder_image_recipe", "gpu_node").body["name"]
    )


def test_the_deploy_bakes_after_publishing_and_only_for_a_new_bake_hash() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/deploy.yml").read_text())
    (job,) = [j for j in workflow["jobs"].values() if any(
        "tools.release publish" in s.get("run", "") for s in j["steps"]
    )]  # fmt: skip
    runs = [s.get("run", "") for s in job["steps"]]
    publish = next(i for i, r in enumerate(runs) if "tools.release publish" in r)
    bake = next(i for i, r in enumerate(runs) if "tools.image ensure" in r)
    assert bake > publish
    assert "steps.terraform.outputs.image_pipeline" in runs[bake]
    assert any("terraform output -raw image_pipeline_arn" in r for r in runs)
