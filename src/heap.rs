//! The allocator: dlmalloc, for jail and for everything else built on this crate.
//!
//! musl's malloc (make's build links musl) hands emptied pages back to the kernel as soon as
//! they are free, so a launch, about 900 allocations, 800 frees and 300 reallocations across
//! jail's processes, paid munmap calls and fresh page faults for memory it used again a moment
//! later, besides that allocator's own bookkeeping: 0.25-0.33 ms of a 3 ms launch here
//! (interleaved runs; `make bench`). dlmalloc keeps what it was given, and gives the free top of
//! its heap back on [`give_back`], which the launcher processes call once the command has run a
//! while (`launch/idle.rs`). The default sandbox's launchers are as small as with musl's
//! malloc (PSS 416 against 408 KiB for jail's two waiting processes); large plans keep more,
//! since freed memory below live data stays: 948 against 580 KiB with 1000 binds (bwrap: 1351),
//! 1488 against 1128 with 3000.
//!
//! One lock around one heap. jail's only threads are `--allow-host`'s proxy, started once the
//! sandbox is cloned, after which jail forks no more: so no fork or clone can copy the lock
//! held. A thread that finds it taken yields until it is free.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Heap {
    busy: AtomicBool,
    dl: UnsafeCell<dlmalloc::Dlmalloc>,
}

// SAFETY: `dl` is only reached through `with`, which holds `busy` for the whole access.
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Heap {
        Heap { busy: AtomicBool::new(false), dl: UnsafeCell::new(dlmalloc::Dlmalloc::new()) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut dlmalloc::Dlmalloc) -> R) -> R {
        while self.busy.swap(true, Ordering::Acquire) {
            std::thread::yield_now();
        }
        // SAFETY: `busy` is held: this is the only reference to `dl` until it is released.
        let r = f(unsafe { &mut *self.dl.get() });
        self.busy.store(false, Ordering::Release);
        r
    }

    /// Returns the free memory at the top of the heap, and whole free segments, to the kernel.
    fn trim(&self) {
        // SAFETY: trim only releases memory no allocation holds.
        self.with(|dl| unsafe { dl.trim(0) });
    }
}

// SAFETY: dlmalloc's functions take exactly what GlobalAlloc's callers guarantee (a non-zero
// size, a power-of-two alignment; a pointer this allocator returned, with its layout).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with(|dl| unsafe { dl.malloc(layout.size(), layout.align()) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.with(|dl| unsafe { dl.calloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.with(|dl| unsafe { dl.free(ptr, layout.size(), layout.align()) })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.with(|dl| unsafe { dl.realloc(ptr, layout.size(), layout.align(), new_size) })
    }
}

/// Unit tests keep the system's allocator: the test below checks a heap of its own.
#[cfg(not(test))]
#[global_allocator]
static HEAP: Heap = Heap::new();

/// Gives the heap's free memory back to the kernel (see the module's doc).
pub fn give_back() {
    #[cfg(not(test))]
    HEAP.trim();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_alignment_and_contents_and_a_trim_gives_back_the_free_top() {
        let heap = Heap::new();
        let mut blocks = Vec::new();
        for (i, align) in [1usize, 8, 16, 64, 4096].iter().cycle().take(200).enumerate() {
            let layout = Layout::from_size_align(1 + i * 97, *align).unwrap();
            // SAFETY: a non-zero size.
            let p = unsafe { heap.alloc(layout) };
            assert!(!p.is_null() && (p as usize).is_multiple_of(*align), "block {i}: {p:?} for {layout:?}");
            // SAFETY: within the block just allocated.
            unsafe { p.write_bytes(i as u8, layout.size()) };
            blocks.push((p, layout, i as u8));
        }
        // SAFETY (the reads below): each within its own live block.
        let holds = |p: *mut u8, size: usize, fill: u8| (0..size).all(|k| unsafe { *p.add(k) } == fill);
        // Grown in place or moved, a block keeps what it held.
        let (p, layout, fill) = blocks.swap_remove(7);
        let grown = Layout::from_size_align(layout.size() * 40, layout.align()).unwrap();
        // SAFETY: p came from this heap with `layout`.
        let q = unsafe { heap.realloc(p, layout, grown.size()) };
        assert!(!q.is_null() && holds(q, layout.size(), fill));
        // SAFETY: q came from this heap with `grown`.
        unsafe { heap.dealloc(q, grown) };
        for (p, layout, fill) in blocks {
            assert!(holds(p, layout.size(), fill), "a block was overwritten");
            // SAFETY: p came from this heap with `layout`.
            unsafe { heap.dealloc(p, layout) };
        }
        let zeroed = Layout::from_size_align(3000, 8).unwrap();
        // SAFETY: a non-zero size.
        let z = unsafe { heap.alloc_zeroed(zeroed) };
        assert!(holds(z, zeroed.size(), 0));
        // SAFETY: z came from this heap with `zeroed`.
        unsafe { heap.dealloc(z, zeroed) };
        heap.trim();
    }
}
