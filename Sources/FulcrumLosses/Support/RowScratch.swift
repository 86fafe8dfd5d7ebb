import FulcrumKernels
import Synchronization

/// Scratch memory for one row: two rows of `classes` values of T, and `RowChunks.recordLength`
/// Doubles for each chunk of the row.
struct RowScratch<T: FulcrumFloat> {
    let values: UnsafeMutablePointer<T>
    let otherValues: UnsafeMutablePointer<T>
    let chunkRecords: UnsafeMutablePointer<Double>
    /// The set's index in its pool.
    let index: Int
}

/// Scratch sets for the blocks of one call, one per concurrently running block: a block takes a
/// set when it starts and gives it back when it ends (a lock per block, no allocation after the
/// first blocks). Sets are allocated on demand, so their number never exceeds the number of
/// blocks that ran at the same time.
final class ScratchPool<T: FulcrumFloat>: Sendable {
    private struct State {
        /// Every set allocated so far, as addresses.
        var sets: [(values: Int, records: Int)] = []
        /// Indices of the sets no block holds.
        var free: [Int] = []
    }

    private let classes: Int
    private let state = Mutex(State())

    init(classes: Int) { self.classes = classes }

    func take() -> RowScratch<T> {
        let (index, values, records) = state.withLock { state -> (Int, Int, Int) in
            if let i = state.free.popLast() { return (i, state.sets[i].values, state.sets[i].records) }
            let values = UnsafeMutablePointer<T>.allocate(capacity: 2 * max(1, classes))
            let records = UnsafeMutablePointer<Double>.allocate(capacity: RowChunks.count(classes) * RowChunks.recordLength)
            state.sets.append((Int(bitPattern: values), Int(bitPattern: records)))
            return (state.sets.count - 1, Int(bitPattern: values), Int(bitPattern: records))
        }
        let first = UnsafeMutablePointer<T>(bitPattern: values)!
        return RowScratch(values: first, otherValues: first + max(1, classes), chunkRecords: UnsafeMutablePointer(bitPattern: records)!,
                          index: index)
    }

    func give(_ scratch: RowScratch<T>) {
        state.withLock { $0.free.append(scratch.index) }
    }

    /// Frees every set; call once no block runs.
    func deallocate() {
        state.withLock { state in
            for set in state.sets {
                UnsafeMutablePointer<T>(bitPattern: set.values)?.deallocate()
                UnsafeMutablePointer<Double>(bitPattern: set.records)?.deallocate()
            }
            state = State()
        }
    }
}

/// The chunks that row passes run over: 512 elements (2 KiB of Float per stream, so a chunk's
/// passes hit L1 after its first read), vector partial sums of 64 terms per lane in T, combined
/// in Double.
enum RowChunks {
    /// Elements per chunk.
    static let length = 512
    /// Doubles per chunk record.
    static let recordLength = 8

    /// Chunks of a row of `classes` elements.
    static func count(_ classes: Int) -> Int { max(1, (classes + length - 1) / length) }
}
