#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FulcrumKernels

/// An uninitialised buffer of trivial elements for the metrics' large temporaries (sort keys,
/// scratch), allocated 2 MiB-aligned and advised to use transparent huge pages (`adviseHugePages`).
///
/// Fresh memory costs a page fault per 4 KiB page on first touch: for the 80 MB a 10⁷-score sort
/// needs, that is ~20 000 faults, as long as the sort itself. With huge pages it is ~40.
final class LargeBuffer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(count: Int) {
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Element>.stride
        let alignment = bytes >= hugePageBytes ? hugePageBytes : 64
        var raw: UnsafeMutableRawPointer?
        if posix_memalign(&raw, alignment, bytes) == 0, let raw {
            adviseHugePages(UnsafeMutableRawBufferPointer(start: raw, count: bytes))
            pointer = raw.bindMemory(to: Element.self, capacity: max(1, count))
            systemAllocated = true
        } else {
            // No aligned block: an ordinary Swift allocation, which fails like any array would.
            pointer = UnsafeMutablePointer<Element>.allocate(capacity: max(1, count))
            systemAllocated = false
        }
    }

    /// Whether `pointer` came from `posix_memalign` (freed with `free`) or from Swift.
    private let systemAllocated: Bool

    deinit { if systemAllocated { free(pointer) } else { pointer.deallocate() } }

    /// Calls `body` with the memory, keeping the buffer alive until `body` returns (a bare
    /// `buffer` outlives the object only while the object is otherwise referenced).
    func withBuffer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(buffer) }
    }

    var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    var readOnly: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: pointer, count: count) }
}
