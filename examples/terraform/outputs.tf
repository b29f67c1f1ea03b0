output "environment_id" {
  value = restapi_object.environment.id
}

# api_data is the last answer of the API as strings. With `Prefer: wait` the create answer is the
# running VM, so its address is known after the first apply.
output "app_ip" {
  value = restapi_object.app.api_data.private_ip
}

output "worker_ip" {
  value = restapi_object.worker.api_data.private_ip
}

output "data_volume_id" {
  value = restapi_object.data.id
}
