//! The capture reader must not allocate per packet in the steady state: this test binary counts
//! heap allocations with a wrapping global allocator while draining a large in-memory capture.

use albscope::capture::CaptureReader;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn pcap(packets: u32, nanos: bool) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    for v in [magic, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend(v.to_le_bytes());
    }
    for i in 0..packets {
        let len = 60 + (i % 1400);
        for v in [1_700_000_000 + i / 1000, i % 1000, len, len] {
            out.extend(v.to_le_bytes());
        }
        out.extend(std::iter::repeat((i % 251) as u8).take(len as usize));
    }
    out
}

fn pcapng(packets: u32) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, t: u32, body: &[u8]) {
        let len = (12 + body.len()) as u32;
        out.extend(t.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.extend(len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend(0x1A2B_3C4Du32.to_le_bytes());
    shb.extend([1, 0, 0, 0]);
    shb.extend([0xff; 8]);
    block(&mut out, 0x0A0D_0D0A, &shb);
    block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
    for i in 0..packets {
        let len = 64 + 4 * (i % 350);
        let mut body = Vec::new();
        for v in [0, 0, i * 10, len, len] {
            body.extend(v.to_le_bytes());
        }
        body.extend(std::iter::repeat(7u8).take(len as usize));
        block(&mut out, 6, &body);
    }
    out
}

fn allocations_while_draining(bytes: Vec<u8>, expected: u64) -> u64 {
    let mut reader = CaptureReader::from_reader("mem", Box::new(Cursor::new(bytes))).unwrap();
    // Warm up: the first packets may size buffers.
    for _ in 0..10 {
        reader.next_packet().unwrap();
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut n = 10;
    let mut sum = 0u64;
    while let Some(p) = reader.next_packet() {
        n += 1;
        sum += p.data.len() as u64;
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(n, expected);
    assert!(sum > 0);
    assert!(reader.problems().is_empty());
    after - before
}

#[test]
fn no_allocation_per_packet() {
    let pcap_allocs = allocations_while_draining(pcap(20_000, false), 20_000);
    let ng_allocs = allocations_while_draining(pcapng(20_000), 20_000);
    // A handful are allowed (closing the file at the end), never one per packet.
    assert!(
        pcap_allocs < 20,
        "pcap: {pcap_allocs} allocations for 20000 packets"
    );
    assert!(
        ng_allocs < 20,
        "pcapng: {ng_allocs} allocations for 20000 packets"
    );
}
