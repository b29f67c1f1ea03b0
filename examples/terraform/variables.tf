variable "endpoint" {
  description = "mockcloud base URL."
  type        = string
  default     = "http://localhost:8000"
}

variable "token" {
  description = "Bearer token, when the server runs with auth on (MOCKCLOUD_AUTH). Empty sends none."
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
  description = "Size of the app VM. The API resizes only a stopped VM (see README)."
  type        = string
  default     = "medium"
}

variable "simulated_duration" {
  description = "Seconds each VM/volume operation takes (the mockcloud:duration tag, scaled by the server's time scale)."
  type        = string
  default     = "0"
}

variable "wait_seconds" {
  description = "How long one request may wait for an asynchronous operation to end (Prefer: wait, at most 600)."
  type        = number
  default     = 300
}
