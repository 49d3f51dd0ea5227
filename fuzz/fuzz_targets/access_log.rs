//! Fuzzes the access-log parser, the explanation, and the streaming reader (gzip detection and
//! line splitting included) with arbitrary bytes: none of them may panic.
#![no_main]

use albscope::accesslog::{explain, parse_line, LogReader, LogRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(entry) = parse_line(&text) {
        let _ = explain(&entry);
    }
    let reader = LogReader::from_reader("fuzz", Box::new(std::io::Cursor::new(data.to_vec())));
    for rec in reader {
        if let LogRecord::Entry { entry, .. } = rec {
            let _ = explain(&entry);
        }
    }
});
