//! ALB access-log reading: parses the documented space-separated format and explains each error
//! line from its fields alone. (Placeholder: implemented by the access-log work item.)
