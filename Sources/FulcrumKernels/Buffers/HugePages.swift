#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The size of a transparent huge page on x86-64 Linux: 2 MiB.
package let hugePageBytes = 1 << 21

/// Advises the kernel to back the whole 2 MiB pages inside `memory` with transparent huge pages
/// (Linux; a no-op elsewhere, and for memory holding no whole 2 MiB page).
///
/// For large buffers written once right after allocation (resampled data sets, metric
/// temporaries): fresh memory costs a page fault per 4 KiB page on first touch, about as long as
/// writing the page; with huge pages there is one fault per 2 MiB. Only a hint: it never changes
/// the memory's contents, and memory the kernel cannot back with huge pages stays as it was.
package func adviseHugePages(_ memory: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
    guard let start = memory.baseAddress else { return }
    let page = hugePageBytes
    let first = (Int(bitPattern: start) + page - 1) & ~(page - 1)
    let end = (Int(bitPattern: start) + memory.count) & ~(page - 1)
    guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
    _ = madvise(aligned, end - first, MADV_HUGEPAGE)
    #endif
}
