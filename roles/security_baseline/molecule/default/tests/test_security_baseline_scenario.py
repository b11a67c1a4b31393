"""security_baseline role on a lab-image host: apt's effective configuration upgrades from the
security archive only and never reboots; the fleet's audit rules are written and pass the
checker (with ausyscall's table here). auditd cannot run in a container - the kernel's audit is
the machine's - so the rules are checked, not loaded: what the kernel does with them is seen on
an EC2 host only."""

from __future__ import annotations

from testinfra.host import Host

RULES = "/etc/audit/rules.d/50-llm-fleet.rules"
CHECK = "/usr/local/sbin/llm-fleet-audit-rules-check"


def apt_config(host: Host, name: str) -> str:
    return str(host.check_output(f"apt-config dump {name}"))


def test_security_updates_only_unattended_and_never_a_reboot(host: Host) -> None:
    assert host.package("unattended-upgrades").is_installed
    origins = apt_config(host, "Unattended-Upgrade::Origins-Pattern").splitlines()[1:]
    assert origins == [
        'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,'
        'label=Debian-Security";'
    ]
    assert 'Automatic-Reboot "false"' in apt_config(host, "Unattended-Upgrade::Automatic-Reboot")
    assert '"nvidia-"' in apt_config(host, "Unattended-Upgrade::Package-Blacklist")
    periodic = apt_config(host, "APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic


def test_the_audit_rules_are_written_and_well_formed(host: Host) -> None:
    rules = host.file(RULES)
    assert (rules.user, rules.mode) == ("root", 0o640)
    text = rules.content_string
    for watched in ("/etc/open-webui", "/etc/chroma", "/etc/fleet-rag", "/etc/systemd/system"):
        assert f"-w {watched} -p" in text
    assert "-S execve -F auid=4294967295 -F uid!=0 -k llm-fleet-service-exec" in text
    assert host.run(f"{CHECK} {RULES}").rc == 0
    assert host.exists("ausyscall")


def test_a_malformed_rule_is_refused_by_line(host: Host) -> None:
    bad = "/tmp/bad.rules"
    host.run(
        f"printf '%s\\n' '-w /etc/passwd -p wz -k identity' "
        f"'-a always,exit -F arch=b64 -S no_such_call -k x' '-a sometimes,exit -k x' > {bad}"
    )
    result = host.run(f"{CHECK} {bad}")
    assert result.rc == 1
    assert f"{bad}:1: permissions 'wz'" in result.stdout
    assert f"{bad}:2: no syscall 'no_such_call' on b64" in result.stdout
    assert f"{bad}:3: -a 'sometimes,exit'" in result.stdout


def test_auditd_is_installed_and_kept_off_in_a_container(host: Host) -> None:
    assert host.package("auditd").is_installed
    assert not host.service("auditd").is_running and not host.service("auditd").is_enabled
    # Its failed first start (the package's) is cleared: systemd reports the host running.
    assert host.run("systemctl is-failed --quiet auditd.service").rc != 0
    assert host.run("systemctl is-system-running").stdout.strip() == "running"
