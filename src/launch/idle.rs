//! What a launcher process gives back once the sandbox runs. jail's parent and init stay for
//! the sandbox's whole life, but most pages they had mapped served only the setup: once the
//! command has run a while, they return the heaps' free memory, drop the dead part of the
//! stack below the current frame, and last drop from their page tables the read-only segments
//! of every loaded object (jail's binary, libc, libgcc_s, the loader): file-backed and never
//! written, so nothing is lost, and what the waiting loop needs faults back in from the page
//! cache. Last, so that no other work refaults what was just dropped.

use std::ffi::c_void;
use std::time::Duration;

/// How long the command runs before its launchers trim: commands that end sooner never pay.
pub const AFTER: Duration = Duration::from_millis(50);

/// Read-only segments found, at most this many (jail loads five objects).
const MAX_SEGMENTS: usize = 32;

struct Segments {
    found: [(usize, usize); MAX_SEGMENTS],
    n: usize,
}

pub fn trim() {
    crate::heap::give_back();
    // SAFETY: malloc_trim only hands free heap memory back to the kernel. With glibc linked in,
    // the C library keeps a heap of its own (name lookups); musl's gives its pages back itself.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
    drop_dead_stack();
    let mut segs = Segments { found: [(0, 0); MAX_SEGMENTS], n: 0 };
    // SAFETY: the callback only reads the program headers the loader hands it and writes
    // `segs`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(read_only), std::ptr::addr_of_mut!(segs).cast()) };
    for &(start, end) in &segs.found[..segs.n] {
        // SAFETY: segments mapped read-only from their files and never written (the kernel
        // refuses writes to a running executable, and libraries are mapped private and
        // read-only): they come back unchanged.
        unsafe { drop_pages(start, end) };
    }
}

/// Notes every loaded object's segments that are not writable. Writable ones (data, and the
/// relocated data made read-only after loading) hold private copies and stay; so does the
/// vDSO, the kernel's own mapping.
unsafe extern "C" fn read_only(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> libc::c_int {
    // SAFETY: the loader passes a valid entry; `data` is trim's `Segments`.
    let (info, segs) = unsafe { (&*info, &mut *data.cast::<Segments>()) };
    // SAFETY: getauxval with a constant type.
    if info.dlpi_addr as usize == unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize {
        return 0;
    }
    for i in 0..usize::from(info.dlpi_phnum) {
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_W == 0 && segs.n < MAX_SEGMENTS {
            let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
            segs.found[segs.n] = (start, start + ph.p_memsz as usize);
            segs.n += 1;
        }
    }
    0
}

/// Drops the pages of `[start, end)` shrunk to whole pages (never a neighbour's page).
///
/// # Safety
/// The range must hold nothing that cannot be read back: memory never written since it was
/// mapped from a file, or memory no live data is in.
unsafe fn drop_pages(start: usize, end: usize) {
    // SAFETY: sysconf with a constant name.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let (start, end) = (start.div_ceil(page) * page, end / page * page);
    if end > start {
        // SAFETY: as the caller promises.
        unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// The stack below this frame, with a margin for the calls made from here, holds only the
/// dead frames of the setup; what is not mapped of that range is skipped.
#[inline(never)]
fn drop_dead_stack() {
    let here = 0u8;
    let top = (std::ptr::addr_of!(here) as usize).saturating_sub(16 << 10);
    // SAFETY: below the current frame and its callees' margin no live data is kept.
    unsafe { drop_pages(top.saturating_sub(1 << 20), top) };
}
