terraform {
  required_version = ">= 1.5"
  required_providers {
    restapi = {
      source = "Mastercard/restapi"
      # The current major. 3.0.0 is the version whose requests and drift rules
      # test/e2e/terraform-replay.test.ts replays; see README.md.
      version = "~> 3.0"
    }
  }
}
