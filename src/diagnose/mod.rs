//! Diagnose layer: puts each paired request into a failure category of the taxonomy, with its
//! evidence, timeline, access-log view and fix. (Placeholder: implemented by the diagnosis work item.)
