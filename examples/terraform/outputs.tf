output "environment_id" {
  value = restapi_object.environment.id
}

# api_data is what the provider read back from the API (as strings); create_response is the body
# of the 202, taken while the VM was still "creating", so read the IP from api_data after a refresh.
output "app_ip" {
  value = restapi_object.app.api_data.private_ip
}

output "worker_ip" {
  value = restapi_object.worker.api_data.private_ip
}

output "data_volume_id" {
  value = restapi_object.data.id
}
