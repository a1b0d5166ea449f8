"""What deployments are generated from (the Helm chart's variables and their documentation)."""
