//! Feeds arbitrary bytes (plain or gzip, pcap or pcapng or anything) through the capture reader
//! and drains every packet: it must never panic, and every packet must be consistent.
#![no_main]

use albscope::capture::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(mut reader) = CaptureReader::from_reader("fuzz", input) {
        let mut last_number = 0;
        while let Some(packet) = reader.next_packet() {
            assert!(packet.orig_len as usize >= packet.data.len());
            assert!(packet.data.len() <= 16 << 20);
            assert_eq!(packet.pos.number, last_number + 1);
            last_number = packet.pos.number;
        }
        let summaries = reader.summaries();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].packets, last_number);
        assert!(reader.problems().len() <= 1);
    }
});
