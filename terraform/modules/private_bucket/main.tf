# A private bucket as the fleet keeps every bucket: public access blocked, objects owned by the
# bucket's account, SSE-KMS with the project's key, versioned, expiring old versions and
# abandoned uploads, and reachable over TLS only.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need a log bucket whose policy is account-specific; CloudTrail data events cover object access where wanted.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice (a second region, its key); versioning covers deletions and overwrites.
  #checkov:skip=CKV2_AWS_62:Nothing consumes the fleet's buckets' events.
  #checkov:skip=CKV_AWS_145:Every bucket but the ALB access logs' uses the project's KMS key (tests/test_terraform_state.py); ELB log delivery accepts SSE-S3 only.
  bucket_prefix = var.name_prefix
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.sse_s3 ? "AES256" : "aws:kms"
      kms_master_key_id = var.sse_s3 ? null : var.kms_key_arn
    }
    bucket_key_enabled = !var.sse_s3
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    dynamic "expiration" {
      for_each = var.expiration_days > 0 ? [var.expiration_days] : []
      content {
        days = expiration.value
      }
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  source_policy_documents = var.policy_json == "" ? [] : [var.policy_json]
  statement {
    sid       = "DenyWithoutTLS"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json
}
