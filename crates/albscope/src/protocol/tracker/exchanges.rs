//! The HTTP side of a connection's protocol state: header blocks skipped for the memory limit,
//! and settling parsed requests and responses into exchanges, oldest first.

use super::*;

impl Work {
    /// Skips the header blocks being read in direction `dir` (both when `None`) because a
    /// memory limit was reached; their exchanges are marked [`HttpExchange::headers_skipped`].
    pub(super) fn skip_heads(
        &mut self,
        c: &mut Conn,
        dir: Option<Dir>,
        ts: Timestamp,
        sink: &mut dyn AppSink,
    ) {
        let Some(h) = c.http.as_mut() else { return };
        if dir != Some(Dir::ToClient) {
            h.req.skip_head(&mut self.req_events);
        }
        if dir != Some(Dir::ToServer) {
            let held = h.resp.skip_head(ts, &mut self.resp_events);
            self.stats.header_bytes_skipped += held as u64;
        }
        self.settle(c, sink);
    }

    pub(super) fn finish_responses(&mut self, c: &mut Conn, ts: Timestamp, sink: &mut dyn AppSink) {
        if let Some(h) = c.http.as_mut() {
            h.resp.finish(ts, &mut self.resp_events);
            self.settle(c, sink);
        }
    }

    /// Applies what the HTTP parsers found. On a connection not (yet) known as HTTP, only a
    /// request header block or a response makes it HTTP; anything else is discarded.
    #[inline]
    pub(super) fn settle(&mut self, c: &mut Conn, sink: &mut dyn AppSink) {
        // Most packets (body bytes, a head in parts) finish nothing: nothing to apply, and the
        // steps below would change nothing.
        if self.req_events.is_empty() && self.resp_events.is_empty() {
            return;
        }
        self.settle_events(c, sink);
    }

    /// [`Self::settle`] when the parsers found something.
    fn settle_events(&mut self, c: &mut Conn, sink: &mut dyn AppSink) {
        if c.app == Some(AppKind::Unknown) {
            let found = self
                .req_events
                .iter()
                .any(|e| matches!(e, ReqEvent::Head(_) | ReqEvent::ForwardedCutShort))
                || self.resp_events.iter().any(|e| {
                    matches!(
                        e,
                        RespEvent::Start | RespEvent::Complete(_) | RespEvent::Partial(_)
                    )
                });
            if !found {
                self.req_events.clear();
                self.resp_events.clear();
                return;
            }
            c.app = Some(AppKind::Http);
            if !c.continuation {
                self.stats.unknown_connections = self.stats.unknown_connections.saturating_sub(1);
                self.stats.http_connections += 1;
                self.stats.mid_stream_http += 1;
            }
        }
        if self.apply_requests(c) {
            sink.forwarded_head_cut_short(&c.ctx);
        }
        self.apply_responses(c, sink);
    }

    /// Applies the request parser's events; true when one was a head cut short after the
    /// forwarding headers an ALB adds ([`ReqEvent::ForwardedCutShort`]).
    pub(super) fn apply_requests(&mut self, c: &mut Conn) -> bool {
        let Some(h) = c.http.as_mut() else {
            self.req_events.clear();
            return false;
        };
        let mut forwarded_cut_short = false;
        for ev in self.req_events.drain(..) {
            match ev {
                ReqEvent::ForwardedCutShort => forwarded_cut_short = true,
                ReqEvent::Head(mut ex) => {
                    self.stats.requests += 1;
                    // A lost request that nothing answered before this one was read: the
                    // client waits for an answer before its next request (the ALB never
                    // pipelines), so the lost bytes were not a request of their own.
                    while h.queue.back().is_some_and(|s| {
                        !s.claimed && s.ex.request.is_none() && s.ex.request_lost_at.is_some()
                    }) {
                        if let Some(s) = h.queue.pop_back() {
                            h.next_index = s.ex.index;
                        }
                    }
                    if h.queue.len() >= MAX_QUEUE {
                        self.stats.queue_overflows += 1;
                        h.req_current = None;
                        continue;
                    }
                    let Some(first_byte) = ex.request.as_ref().map(|r| r.first_byte) else {
                        continue;
                    };
                    let index = h.next_index;
                    h.next_index = h.next_index.saturating_add(1);
                    // Built in its box by the parser, where it stays until the ALB layer is
                    // done with it.
                    ex.idle_before = h.idle_before(index, first_byte);
                    ex.index = index;
                    push_slot(&mut h.queue, Slot::new(ex, false));
                    h.req_current = Some(index);
                }
                ReqEvent::Body(n) => {
                    let cur = h.req_current;
                    if let Some(req) = h.slot(cur).and_then(|s| s.ex.request.as_mut()) {
                        req.body_bytes = req.body_bytes.saturating_add(n);
                    }
                }
                ReqEvent::Done(ts) => {
                    let cur = h.req_current.take();
                    if let Some(req) = h.slot(cur).and_then(|s| s.ex.request.as_mut()) {
                        req.complete = Some(ts);
                    }
                }
                ReqEvent::Dropped => {
                    self.stats.requests_dropped += 1;
                    h.req_current = None;
                }
                ReqEvent::Lost(ts) => {
                    // The request stands in the queue without its head, so that its response
                    // (or the close) is its outcome, at its own time.
                    if h.queue.len() >= MAX_QUEUE {
                        self.stats.queue_overflows += 1;
                        continue;
                    }
                    let index = h.next_index;
                    h.next_index = h.next_index.saturating_add(1);
                    let idle_before = h.idle_before(index, ts);
                    let mut ex = ExchangeBox::empty();
                    ex.index = index;
                    ex.idle_before = idle_before;
                    ex.request_lost_at = Some(ts);
                    push_slot(&mut h.queue, Slot::new(ex, false));
                    h.req_current = None;
                }
                ReqEvent::Skipped(held) => {
                    self.stats.headers_skipped += 1;
                    self.stats.header_bytes_skipped += held as u64;
                    let cur = h.req_current.take();
                    if let Some(s) = h.slot(cur) {
                        s.ex.headers_skipped = Some(Dir::ToServer);
                    }
                }
            }
        }
        forwarded_cut_short
    }

    pub(super) fn apply_responses(&mut self, c: &mut Conn, sink: &mut dyn AppSink) {
        let Some(h) = c.http.as_mut() else {
            self.resp_events.clear();
            return;
        };
        for ev in self.resp_events.drain(..) {
            match ev {
                RespEvent::Start => {
                    if let Some(s) = h.queue.iter_mut().find(|s| !s.claimed) {
                        s.claimed = true;
                        h.resp_slot = Some(s.ex.index);
                    } else if h.queue.len() >= MAX_QUEUE {
                        self.stats.queue_overflows += 1;
                        h.resp_slot = None;
                    } else {
                        self.stats.orphan_responses += 1;
                        let index = h.next_index;
                        h.next_index = h.next_index.saturating_add(1);
                        let mut ex = ExchangeBox::empty();
                        ex.index = index;
                        push_slot(&mut h.queue, Slot::new(ex, true));
                        h.resp_slot = Some(index);
                    }
                }
                RespEvent::Complete(mut done) => {
                    let Some(resp) = done.response.as_ref() else {
                        continue;
                    };
                    let (status, end, closes) = (
                        resp.status,
                        resp.complete.or(Some(resp.headers_done)),
                        resp.closes_connection(),
                    );
                    self.stats.responses += 1;
                    if status == 101 {
                        h.req.stop();
                    }
                    let Some(index) = h.resp_slot.take() else {
                        continue;
                    };
                    let Some(at) = h.queue.iter().position(|s| s.ex.index == index) else {
                        continue;
                    };
                    if let Some(mut slot) = h.queue.remove(at) {
                        h.last_end = end;
                        h.last_closes = closes;
                        if status == 101
                            || (slot.kind == ReqKind::Connect && (200..300).contains(&status))
                        {
                            h.req.stop();
                            h.tunnel_since = h.last_end;
                        }
                        // Moved between the two boxes; the box it came in goes back to the
                        // pool. The slot nearly always holds no response: a move, not the
                        // swap (twice the copying) a partial response it replaces needs.
                        if slot.ex.response.is_none() {
                            slot.ex.response = done.response.take();
                        } else {
                            std::mem::swap(&mut slot.ex.response, &mut done.response);
                        }
                        h.finished = h.finished.saturating_add(1);
                        self.stats.exchanges += 1;
                        sink.exchange_boxed(&c.ctx, slot.ex);
                    }
                }
                RespEvent::Skipped => {
                    self.stats.headers_skipped += 1;
                    let cur = h.resp_slot;
                    if let Some(s) = h.slot(cur) {
                        s.ex.headers_skipped = Some(Dir::ToClient);
                    }
                }
                RespEvent::Partial(mut partial) => {
                    let cur = h.resp_slot;
                    if let Some(s) = h.slot(cur) {
                        s.ex.response = partial.response.take();
                    }
                }
                RespEvent::Error(err, partial) => {
                    self.stats.response_errors += 1;
                    let cur = h.resp_slot.take();
                    if let Some(s) = h.slot(cur) {
                        s.ex.response_error = Some(*err);
                        if let Some(mut p) = partial {
                            s.ex.response = p.response.take();
                        }
                    }
                }
            }
        }
    }
}
