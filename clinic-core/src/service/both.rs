//! Waiting on two port calls at once.
//!
//! A service's independent reads (the practice, its services, its practitioners) need not
//! wait on each other: on a database each is a round trip on a connection of its own, and
//! the slowest alone then sets the pace. The core has no runtime, so this polls both
//! futures in the caller's task.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

/// Runs `a` and `b` together and returns both outputs once both are ready.
pub(crate) async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(move |cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        match (out_a.take(), out_b.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (out_a, out_b) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    /// A future ready after it has been polled `n` times, counting its polls.
    struct After {
        n: usize,
        polls: Arc<AtomicUsize>,
        value: &'static str,
    }

    impl Future for After {
        type Output = &'static str;
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            let seen = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if seen >= self.n {
                Poll::Ready(self.value)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    /// Polls `f` to completion on this thread, counting the rounds.
    fn run<F: Future>(f: F) -> (F::Output, usize) {
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut f = pin!(f);
        for round in 1..100 {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return (v, round);
            }
        }
        panic!("never ready");
    }

    #[test]
    fn both_run_together_and_neither_is_polled_after_it_is_done() {
        let (pa, pb) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let a = After {
            n: 2,
            polls: pa.clone(),
            value: "a",
        };
        let b = After {
            n: 5,
            polls: pb.clone(),
            value: "b",
        };
        let (out, rounds) = run(both(a, b));
        assert_eq!(out, ("a", "b"));
        // Together: as many rounds as the slower needs, not the sum.
        assert_eq!(rounds, 5);
        assert_eq!(pa.load(Ordering::SeqCst), 2, "a is not polled once ready");
        assert_eq!(pb.load(Ordering::SeqCst), 5);
        let (out, rounds) = run(both(std::future::ready(1), std::future::ready(2)));
        assert_eq!((out, rounds), ((1, 2), 1));
    }
}
