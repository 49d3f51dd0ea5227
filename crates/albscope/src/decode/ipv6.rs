//! Safe walking of IPv6 extension headers parsed in lax mode.
//!
//! etherparse 0.21's `Ipv6ExtensionSliceIter` assumes the chain was parsed to its end: after a
//! lax parse stopped at a cut or invalid header it reads past the slice (undefined behaviour,
//! found by fuzzing). This walks only the bytes the parser validated.

use etherparse::{Ipv6ExtensionSlice, Ipv6ExtensionsSlice, Ipv6FragmentHeaderSlice};

/// Length of one extension header.
fn ext_len(ext: &Ipv6ExtensionSlice<'_>) -> usize {
    match ext {
        Ipv6ExtensionSlice::HopByHop(s)
        | Ipv6ExtensionSlice::Routing(s)
        | Ipv6ExtensionSlice::DestinationOptions(s) => s.slice().len(),
        Ipv6ExtensionSlice::Fragment(f) => f.slice().len(),
        Ipv6ExtensionSlice::Authentication(a) => a.slice().len(),
    }
}

/// The first fragment header among validated extension headers.
pub(crate) fn fragment_header<'a>(
    exts: &Ipv6ExtensionsSlice<'a>,
) -> Option<Ipv6FragmentHeaderSlice<'a>> {
    let total = exts.slice().len();
    let mut used = 0usize;
    let mut iter = exts.clone().into_iter();
    while used < total {
        let ext = iter.next()?;
        let len = ext_len(&ext);
        if len == 0 {
            return None;
        }
        used = used.saturating_add(len);
        if let Ipv6ExtensionSlice::Fragment(f) = ext {
            return Some(f);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::ip_number;

    #[test]
    fn stops_at_the_validated_end() {
        // A destination-options header (8 bytes) whose next header (another destination
        // options header) is missing: lax parsing keeps the first, the walk must stop there.
        let data = [ip_number::IPV6_DEST_OPTIONS.0, 0, 1, 4, 0, 0, 0, 0];
        let (exts, _, _, err) =
            Ipv6ExtensionsSlice::from_slice_lax(ip_number::IPV6_DEST_OPTIONS, &data);
        assert!(err.is_some());
        assert_eq!(exts.slice().len(), 8);
        assert!(fragment_header(&exts).is_none());

        // Fragment header (offset 1, id 7) then a cut routing header.
        let data = [ip_number::IPV6_ROUTE.0, 0, 0, 8, 0, 0, 0, 7, 6];
        let (exts, _, _, err) = Ipv6ExtensionsSlice::from_slice_lax(ip_number::IPV6_FRAG, &data);
        assert!(err.is_some());
        let f = fragment_header(&exts).unwrap();
        assert_eq!(f.identification(), 7);
        assert_eq!(f.fragment_offset().value(), 1);
    }
}
