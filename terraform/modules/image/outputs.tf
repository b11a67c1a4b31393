output "pipeline_arn" {
  description = "The gpu-node image pipeline (the deploy starts it: tools/image.py)."
  value       = aws_imagebuilder_image_pipeline.gpu_node.arn
}

output "image_parameter" {
  description = "The SSM parameter holding the gpu-node AMI id."
  value       = aws_ssm_parameter.image.name
}
