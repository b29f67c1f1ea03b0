# The same infrastructure as examples/pulumi, through the generic REST provider (Mastercard/restapi
# 3.x): an environment, a security group, two VMs and a volume attached to the first VM. README.md
# explains every setting; test/e2e/terraform-replay.test.ts replays the requests they produce.

provider "restapi" {
  uri = var.endpoint

  # Sent as "Authorization: Bearer …" on every request; empty sends nothing.
  bearer_token = var.token

  # Every create answers the whole object with its "id"; PUT answers it too.
  id_attribute          = "id"
  create_returns_object = true
  write_returns_object  = true

  # The provider sends the whole `data` document on update. PUT makes mockcloud's writable fields
  # exactly that document: a tag removed from the HCL is removed on the server (a PATCH, being a
  # JSON merge patch, would keep it).
  update_method  = "PUT"
  destroy_method = "DELETE"

  # The provider never polls. With this header mockcloud answers an asynchronous create, delete,
  # attach or detach once its operation has ended (201/200/204 instead of 202): a VM is running
  # before anything uses it, and a deleted VM's name is free before a replacement is created.
  headers = { "Prefer" = "wait=${var.wait_seconds}" }

  # Per request, in seconds: longer than the wait above.
  timeout = var.wait_seconds + 30
}

locals {
  tags = { "managed-by" = "terraform", "mockcloud:duration" = var.simulated_duration }
}

resource "restapi_object" "environment" {
  path = "/api/v1/environments"
  data = jsonencode({ name = var.name, cidr = "10.30.0.0/24", tags = { "managed-by" = "terraform" } })
  # The API adds id, status, created_at, …: without this every plan would want to remove them.
  ignore_server_additions = true
  # Immutable on the API (422 immutable_field): a change recreates.
  force_new = ["cidr"]
}

resource "restapi_object" "security_group" {
  path = "/api/v1/security-groups"
  data = jsonencode({
    name           = "${var.name}-web"
    environment_id = restapi_object.environment.id
    description    = "HTTP(S) and SSH in, everything out"
    rules = [
      { direction = "ingress", protocol = "tcp", port_from = 22, port_to = 22, cidr = "10.0.0.0/8" },
      { direction = "ingress", protocol = "tcp", port_from = 80, port_to = 80, cidr = "0.0.0.0/0" },
      { direction = "ingress", protocol = "tcp", port_from = 443, port_to = 443, cidr = "0.0.0.0/0" },
      { direction = "egress", protocol = "all", cidr = "0.0.0.0/0" },
    ]
    tags = { "managed-by" = "terraform" }
  })
  ignore_server_additions = true
  force_new               = ["environment_id"]
}

resource "restapi_object" "app" {
  path = "/api/v1/vms"
  data = jsonencode({
    name               = "${var.name}-app"
    environment_id     = restapi_object.environment.id
    size               = var.app_size
    image              = "ubuntu-24.04"
    security_group_ids = [restapi_object.security_group.id]
    tags               = local.tags
  })
  ignore_server_additions = true
  force_new               = ["environment_id", "image"]
}

resource "restapi_object" "worker" {
  path = "/api/v1/vms"
  data = jsonencode({
    name               = "${var.name}-worker"
    environment_id     = restapi_object.environment.id
    size               = "small"
    image              = "debian-12"
    security_group_ids = [restapi_object.security_group.id]
    tags               = local.tags
  })
  ignore_server_additions = true
  force_new               = ["environment_id", "image"]
}

resource "restapi_object" "data" {
  path = "/api/v1/volumes"
  data = jsonencode({
    name           = "${var.name}-data"
    environment_id = restapi_object.environment.id
    size_gb        = 20
    type           = "ssd"
    tags           = local.tags
  })
  ignore_server_additions = true
  force_new               = ["environment_id", "type"]
}

# The API has no attachment object: POST .../attach/{vm_id} answers the volume, so this resource's
# id is the volume's, it is read back as the volume, and destroyed with POST .../detach.
resource "restapi_object" "data_on_app" {
  path                    = "/api/v1/volumes"
  create_path             = "/api/v1/volumes/${restapi_object.data.id}/attach/${restapi_object.app.id}"
  destroy_path            = "/api/v1/volumes/{id}/detach"
  destroy_method          = "POST"
  data                    = jsonencode({})
  ignore_server_additions = true
  # Attach and detach are the only verbs: a new volume or VM means detach, then attach again.
  lifecycle {
    replace_triggered_by = [restapi_object.data.id, restapi_object.app.id]
  }
}
