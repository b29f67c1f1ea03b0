# The same infrastructure as examples/pulumi, through the generic REST provider: an environment, a
# security group, two VMs and a volume attached to the first VM. See README.md for what the provider
# does with these settings and for its limits (it never waits for asynchronous states: the
# local-exec provisioners below do).

provider "restapi" {
  uri = var.endpoint

  # Every mockcloud create answers the whole object (201 or 202) with its "id"; PATCH answers it too.
  id_attribute          = "id"
  create_returns_object = true
  write_returns_object  = true

  # The provider sends the whole `data` document on update: mockcloud takes it as a JSON merge
  # patch, so unchanged fields (immutable ones included) are accepted as they are.
  update_method  = "PATCH"
  destroy_method = "DELETE"

  headers = merge(
    { "Content-Type" = "application/json" },
    var.token == "" ? {} : { "Authorization" = "Bearer ${var.token}" },
  )
}

locals {
  tags = { "managed-by" = "terraform", "mockcloud:duration" = var.simulated_duration }
}

resource "restapi_object" "environment" {
  path = "/api/v1/environments"
  data = jsonencode({ name = var.name, cidr = "10.30.0.0/24", tags = { "managed-by" = "terraform" } })
  # Immutable on the API (422 immutable_field): a change must recreate.
  force_new = ["cidr"]

  # DELETE answers 409 dependency_violation while a VM or volume is still being deleted.
  provisioner "local-exec" {
    when    = destroy
    command = "sh ${path.module}/wait-for.sh empty ${self.id}"
  }
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
  force_new = ["environment_id"]

  # Refused (409) while a VM that uses it still exists, even one being deleted.
  provisioner "local-exec" {
    when    = destroy
    command = "sh ${path.module}/wait-for.sh no-vms ${self.api_data.environment_id}"
  }
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
  force_new = ["environment_id", "image"]

  # create answers 202 with the VM "creating": wait for "running" before anything uses it.
  provisioner "local-exec" {
    command = "sh ${path.module}/wait-for.sh status vms ${self.id} running"
  }
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
  force_new = ["environment_id", "image"]

  provisioner "local-exec" {
    command = "sh ${path.module}/wait-for.sh status vms ${self.id} running"
  }
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
  force_new = ["environment_id", "type"]

  provisioner "local-exec" {
    command = "sh ${path.module}/wait-for.sh status volumes ${self.id} available"
  }
  # DELETE answers 409 while the volume is still detaching.
  provisioner "local-exec" {
    when    = destroy
    command = "sh ${path.module}/wait-for.sh status volumes ${self.id} available"
  }
}

# The API has no attachment object: POST .../attach/{vm_id} answers the volume, so this resource's
# id is the volume's id, it is read back as the volume, and destroyed with POST .../detach.
resource "restapi_object" "data_on_app" {
  path           = "/api/v1/volumes"
  create_path    = "/api/v1/volumes/${restapi_object.data.id}/attach/${restapi_object.app.id}"
  destroy_path   = "/api/v1/volumes/{id}/detach"
  destroy_method = "POST"
  data           = jsonencode({})
  # Attach and detach are the only verbs: a new volume or VM means detach, then attach again.
  lifecycle {
    replace_triggered_by = [restapi_object.data.id, restapi_object.app.id]
  }

  provisioner "local-exec" {
    command = "sh ${path.module}/wait-for.sh status volumes ${self.id} in-use"
  }
}
