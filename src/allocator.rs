//! The allocator of the `leakwatch` binary and of its benchmark: jemalloc,
//! with the options that suit polars' way of allocating. The library itself
//! leaves the allocator to its user; [`crate::global_allocator!`] is how the
//! binary and the benchmark declare the same one.
//!
//! polars allocates and frees many short-lived column buffers, up to tens
//! of megabytes each, from several threads. With jemalloc's defaults every
//! buffer over 8 MiB comes from an arena that hands its pages back to the
//! kernel as soon as it is freed, and every page comes back as a fresh,
//! zeroed 4 KiB page: about 63,000 page faults on 1 M events, and a quarter
//! of a year's run in the kernel. The options below treat large buffers
//! like the rest (freed pages are reused for up to ten seconds before they
//! are returned) and back the heap with transparent huge pages where the
//! kernel allows them (`madvise` mode, the common default; elsewhere the
//! option does nothing).
//!
//! The environment variable `_RJEM_MALLOC_CONF` still overrides any of them.

pub use tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf` string, NUL-terminated):
/// - `oversize_threshold:0`: no separate arena for large buffers, so that
///   they are reused like the others;
/// - `thp:always`, `metadata_thp:always`: huge pages for the heap and
///   jemalloc's own metadata (a 2 MiB page faults once, not 512 times).
pub const MALLOC_CONF: &[u8] = b"oversize_threshold:0,thp:always,metadata_thp:always\0";

/// Declares jemalloc with [`MALLOC_CONF`] as the program's global
/// allocator. Used once, at the top level of a binary or benchmark.
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::allocator::Jemalloc = $crate::allocator::Jemalloc;

        /// Read by jemalloc at start-up (see `leakwatch::allocator`).
        #[allow(non_upper_case_globals)]
        #[export_name = "_rjem_malloc_conf"]
        static malloc_conf: Option<&'static u8> = $crate::allocator::MALLOC_CONF.first();
    };
}
