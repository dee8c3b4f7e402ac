//! Whole tools against the API: docker-compose bringing up a project, the Python SDK.
