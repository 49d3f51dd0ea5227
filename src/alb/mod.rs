//! ALB layer: finds the ALB nodes, classifies connections as front end (client -> ALB) or back
//! end (ALB -> target), recognises health checks, and pairs each front-end request with the
//! back-end attempt that served it. (Placeholder: implemented by the diagnosis work item.)
