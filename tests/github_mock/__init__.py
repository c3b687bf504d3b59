"""A local stand-in for the GitHub REST API endpoints github_redeploy uses."""
