//! Report layer: renders an analysis as text, JSON, NDJSON, Markdown or HTML, and writes pcap
//! slices. (Placeholder: implemented by the report work items.)
