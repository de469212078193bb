//! The extension's Rust heap. Small blocks come from the C library's malloc, as before; blocks
//! of 1 MiB and more (a results page's body, its row index, a prepared page) are mapped from
//! the kernel and unmapped when freed, and grow in place with `mremap`.
//!
//! Why: the pages in flight are read on several threads, and glibc gives each thread its own
//! arena. Once a block of a few megabytes has been freed, glibc raises its mmap threshold to
//! that size and serves the next ones from the arenas, which keep their memory after a free: a
//! backend that had read with four threads kept about 30 MB more than the data it held
//! (`bench/`, 600,000 rows, fetch_concurrency 4: +99 MB peak, +69 MB with one arena). Mapping
//! large blocks directly is what glibc does below its threshold; only the extension's own
//! allocations are concerned, never PostgreSQL's.
//!
//! A fresh mapping costs its page faults and the kernel's zeroing (9 % of a scan's time in a
//! profile), so a few freed mappings (at most `KEEP`, `KEEP_BYTES` in all) are kept and handed
//! out again, cut to size, while a read streams ([`read_started`]); they are unmapped when the
//! last read ends ([`read_ended`]), so an idle backend keeps none.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Freed mappings kept for reuse: (address, length), at most KEEP of them.
static KEPT: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
const KEEP: usize = 2;
const KEEP_BYTES: usize = 24 << 20;

/// Blocks of this size and more are mapped.
const MAP_FROM: usize = 1 << 20;

/// The kernel's page size (4 KiB on x86-64; 16 or 64 KiB on some arm64 kernels). Mapped blocks
/// start on a page, so an alignment above a page goes to malloc.
fn page() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf reads a constant of the system; it allocates nothing.
            let p = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                .ok()
                .filter(|p| p.is_power_of_two())
                .unwrap_or(4096);
            PAGE.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

/// Reads in progress (`blocking::Stream`s alive): freed mappings are kept only while there is
/// one, so that an idle backend keeps none.
static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// The allocator of every Rust allocation of the extension (`lib.rs`).
pub struct Heap;

fn mapped(size: usize, align: usize) -> bool {
    size >= MAP_FROM && align <= page()
}

/// Blocks of this size and more are mapped in huge pages where the kernel allows it
/// (transparent huge pages in `madvise` mode): a 10 MB page body then costs 5 page faults
/// instead of 2,560.
const HUGE: usize = 2 << 20;

/// The length of the mapping of a block of `size` bytes.
fn pages(size: usize) -> usize {
    let unit = if size >= HUGE { HUGE } else { page() };
    size.div_ceil(unit) * unit
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping of a fresh range chosen by the kernel: no existing
    // memory is touched; MAP_FAILED is turned into null, as GlobalAlloc requires.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages(size),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    if size >= HUGE {
        // SAFETY: advice on the mapping just made; refused advice changes nothing.
        unsafe { libc::madvise(p, pages(size), libc::MADV_HUGEPAGE) };
    }
    p as *mut u8
}

/// A kept mapping of at least `size` bytes (and at most twice), cut to `pages(size)`.
fn reuse(size: usize) -> Option<*mut u8> {
    let want = pages(size);
    let (addr, len) = {
        let mut kept = KEPT.try_lock().ok()?;
        let i = kept
            .iter()
            .position(|&(_, len)| len >= want && len <= want.saturating_mul(2))?;
        kept.swap_remove(i)
    };
    if len > want {
        // SAFETY: the tail of a mapping this allocator owns and no block uses (it was freed).
        unsafe { libc::munmap((addr + want) as *mut c_void, len - want) };
    }
    Some(addr as *mut u8)
}

/// Keeps a freed mapping of `len` bytes for reuse, or unmaps it.
fn keep_or_unmap(ptr: *mut u8, len: usize) {
    if STREAMS.load(Ordering::Relaxed) > 0
        && let Ok(mut kept) = KEPT.try_lock()
        && kept.capacity() >= KEEP
        && kept.len() < KEEP
        && kept.iter().map(|k| k.1).sum::<usize>() + len <= KEEP_BYTES
    {
        kept.push((ptr as usize, len));
        return;
    }
    // SAFETY: a mapping of `len` bytes made by `map` and freed by its owner.
    unsafe { libc::munmap(ptr as *mut c_void, len) };
}

/// A read starts: freed mappings may be kept for it.
pub fn read_started() {
    prepare();
    STREAMS.fetch_add(1, Ordering::Relaxed);
}

/// A read ended: when it was the last, the kept mappings are unmapped.
pub fn read_ended() {
    if STREAMS.fetch_sub(1, Ordering::Relaxed) == 1 {
        release();
    }
}

/// Unmaps the mappings kept for reuse.
fn release() {
    let mut kept = [(0usize, 0usize); KEEP];
    let n = match KEPT.lock() {
        Ok(mut k) => {
            let n = k.len().min(KEEP);
            kept[..n].copy_from_slice(&k[..n]);
            k.clear();
            n
        }
        Err(_) => return,
    };
    for &(addr, len) in &kept[..n] {
        // SAFETY: kept mappings are owned by this allocator and used by no block.
        unsafe { libc::munmap(addr as *mut c_void, len) };
    }
}

/// Makes room for the kept mappings ahead of time: pushing must never allocate, since it
/// happens inside the allocator.
fn prepare() {
    if let Ok(mut kept) = KEPT.lock()
        && kept.capacity() < KEEP
    {
        kept.reserve_exact(KEEP);
    }
}

// SAFETY: every block is freed by the path that allocated it, chosen by the same rule
// (`mapped` of its layout's size and alignment); mapped blocks are page-aligned, which meets
// any alignment up to a page, and zero-filled by the kernel (a kept block is reused only by
// `alloc`, never by `alloc_zeroed`).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            reuse(layout.size()).unwrap_or_else(|| map(layout.size()))
        } else {
            // SAFETY: the caller's layout, passed on unchanged.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            map(layout.size())
        } else {
            // SAFETY: the caller's layout, passed on unchanged.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(layout.size(), layout.align()) {
            keep_or_unmap(ptr, pages(layout.size()));
        } else {
            // SAFETY: allocated by System with this layout (same rule).
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (mapped(layout.size(), align), mapped(new_size, align)) {
            // SAFETY: allocated by System with `layout`; the caller's arguments, unchanged.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                // SAFETY: `ptr` is a mapping of `pages(layout.size())` bytes made by `map`;
                // MREMAP_MAYMOVE moves it (contents kept) if it cannot grow in place.
                let p = unsafe {
                    libc::mremap(
                        ptr as *mut c_void,
                        pages(layout.size()),
                        pages(new_size),
                        libc::MREMAP_MAYMOVE,
                    )
                };
                if p == libc::MAP_FAILED {
                    std::ptr::null_mut()
                } else {
                    p as *mut u8
                }
            }
            _ => {
                // SAFETY: `new` is a valid layout (the caller guarantees new_size fits
                // `align`); both blocks are live and distinct while the smaller size is copied,
                // then the old one is freed by the path that made it.
                unsafe {
                    let new = Layout::from_size_align_unchecked(new_size, align);
                    let p = self.alloc(new);
                    if !p.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    p
                }
            }
        }
    }
}
