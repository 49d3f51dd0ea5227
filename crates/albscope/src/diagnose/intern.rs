//! The text kept findings quote from the capture (method, request target, Host, reason
//! phrase, Server) and their fix lines, shared: one copy of each value for the finding, its
//! request, evidence and timeline and every other kept finding quoting it, instead of a copy
//! per place.

use super::evidence::Evidence;
use super::model::{EventKind, RequestSeen, Text, TimelineEvent};
use super::Finding;

/// Most distinct texts shared; past it a new text stays its finding's own (the table stays
/// bounded whatever the capture's variety of request targets and fix lines).
const MAX_TEXTS: usize = 8192;

/// The texts shared so far.
#[derive(Default)]
pub(crate) struct Interner {
    texts: foldhash::HashSet<Text>,
}

impl Interner {
    /// Replaces `t` by the shared copy of its text (the first copy seen becomes the shared one).
    fn share(&mut self, t: &mut Text) {
        if let Some(s) = self.texts.get(&**t) {
            *t = s.clone();
        } else if self.texts.len() < MAX_TEXTS {
            self.texts.insert(t.clone());
        }
    }

    fn share_opt(&mut self, t: &mut Option<Text>) {
        if let Some(t) = t {
            self.share(t);
        }
    }

    /// Shares the quoted text of a finding kept in full, its timeline's too.
    pub(crate) fn finding(&mut self, f: &mut Finding) {
        self.share_opt(&mut f.method);
        self.share_opt(&mut f.path);
        self.share_opt(&mut f.host);
        self.share_opt(&mut f.target_server);
        self.share_opt(&mut f.fix);
        for e in &mut f.evidence {
            if let Evidence::RequestSent {
                request: Some((method, target)),
                ..
            } = e
            {
                self.share(method);
                self.share(target);
            }
        }
        if let RequestSeen::Http {
            method,
            target,
            host,
        } = &mut f.request
        {
            self.share(method);
            self.share(target);
            self.share_opt(host);
        }
        self.timeline(&mut f.timeline);
    }

    /// Shares the quoted text of a kept finding's timeline.
    pub(crate) fn timeline(&mut self, events: &mut [TimelineEvent]) {
        for e in events {
            match &mut e.kind {
                EventKind::Request {
                    method,
                    target,
                    host,
                    ..
                } => {
                    self.share(method);
                    self.share(target);
                    self.share_opt(host);
                }
                EventKind::Response { reason, server, .. } => {
                    self.share(reason);
                    self.share_opt(server);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn equal_texts_share_one_copy() {
        let mut i = Interner::default();
        let mut a: Text = "GET".into();
        let mut b: Text = "GET".into();
        i.share(&mut a);
        i.share(&mut b);
        assert!(Arc::ptr_eq(&a, &b));
        let mut c: Text = "POST".into();
        i.share(&mut c);
        assert_eq!(&*c, "POST");
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut i = Interner::default();
        for n in 0..MAX_TEXTS + 10 {
            let mut t: Text = format!("/p{n}").into();
            i.share(&mut t);
        }
        assert_eq!(i.texts.len(), MAX_TEXTS);
        let mut again: Text = format!("/p{}", MAX_TEXTS + 5).into();
        let before = again.clone();
        i.share(&mut again);
        assert!(
            Arc::ptr_eq(&again, &before),
            "past the bound a text stays its own"
        );
    }
}
