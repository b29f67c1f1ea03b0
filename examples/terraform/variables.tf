variable "endpoint" {
  description = "mockcloud base URL. The wait scripts read MOCKCLOUD_ENDPOINT, so export the same value."
  type        = string
  default     = "http://localhost:8000"
}

variable "token" {
  description = "Bearer token, when the server runs with MOCKCLOUD_AUTH=on."
  type        = string
  default     = ""
  sensitive   = true
}

variable "name" {
  description = "Environment name; the other resources are named after it."
  type        = string
  default     = "tf-demo"
}

variable "app_size" {
  description = "Size of the app VM. Changing it needs the VM stopped first (see README)."
  type        = string
  default     = "medium"
}

variable "simulated_duration" {
  description = "Seconds each VM/volume takes to provision (the mockcloud:duration tag); 0 makes them near-instant."
  type        = string
  default     = "0"
}
