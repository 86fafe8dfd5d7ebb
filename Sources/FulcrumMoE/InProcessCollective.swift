import Foundation
import FulcrumKernels

/// Several data-parallel ranks inside one process, each on its own thread, joined by an
/// all-reduce with a barrier: for tests and for simulating a distributed step on one machine.
///
/// Each all-reduce waits until every rank has contributed; the last rank to arrive sums the
/// contributions in rank order (so Double sums are bitwise the same on every rank and for any
/// arrival order) and wakes the others. Mismatched lengths or element types across ranks throw
/// `FulcrumError.shapeMismatch` on every rank. Every rank must make the same sequence of calls:
/// a rank that stops early (an error before its all-reduce) leaves the others waiting.
public final class InProcessCollectiveGroup: @unchecked Sendable {
    /// The number of ranks.
    public let worldSize: Int
    private let condition = NSCondition()
    private var contributions: [Payload?]
    private var arrived = 0
    private var generation = 0
    private var outcome: Result<Payload, FulcrumError> = .success(.int64([]))

    private enum Payload {
        case int64([Int64])
        case double([Double])
        var count: Int {
            switch self {
            case let .int64(v): v.count
            case let .double(v): v.count
            }
        }
    }

    /// A group of `worldSize ≥ 1` ranks.
    public init(worldSize: Int) throws {
        guard worldSize >= 1 else {
            throw FulcrumError.invalidParameter(argument: "worldSize", value: "\(worldSize)", requirement: ">= 1")
        }
        self.worldSize = worldSize
        contributions = Array(repeating: nil, count: worldSize)
    }

    /// The communicator of rank `rank`.
    public func member(_ rank: Int) throws -> InProcessCollective {
        guard (0..<worldSize).contains(rank) else {
            throw FulcrumError.indexOutOfRange(argument: "rank", position: 0, value: rank, validRange: "0..<\(worldSize)")
        }
        return InProcessCollective(group: self, rank: rank)
    }

    /// Runs `body` once per rank, each on its own thread, and returns the results in rank order.
    /// Rethrows the error of the lowest failing rank.
    public static func run<T: Sendable>(worldSize: Int, _ body: @escaping @Sendable (InProcessCollective) throws -> T) throws -> [T] {
        let group = try InProcessCollectiveGroup(worldSize: worldSize)
        let results = ResultSlots<T>(count: worldSize)
        let done = DispatchGroup()
        for rank in 0..<worldSize {
            let member = try group.member(rank)
            done.enter()
            let thread = Thread {
                results.set(rank, Result { try body(member) })
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try results.values()
    }

    fileprivate func allReduce(_ rank: Int, _ values: inout [Int64]) throws {
        guard case let .int64(sum) = try exchange(rank, .int64(values)) else { throw typeMismatch() }
        values = sum
    }

    fileprivate func allReduce(_ rank: Int, _ values: inout [Double]) throws {
        guard case let .double(sum) = try exchange(rank, .double(values)) else { throw typeMismatch() }
        values = sum
    }

    private func typeMismatch() -> FulcrumError {
        FulcrumError.shapeMismatch(argument: "values", expected: "the same element type on every rank", actual: "different types")
    }

    private func exchange(_ rank: Int, _ payload: Payload) throws -> Payload {
        condition.lock()
        defer { condition.unlock() }
        let myGeneration = generation
        contributions[rank] = payload
        arrived += 1
        if arrived == worldSize {
            outcome = reduce()
            contributions = Array(repeating: nil, count: worldSize)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration { condition.wait() }
        }
        return try outcome.get()
    }

    /// Sums the contributions in rank order.
    private func reduce() -> Result<Payload, FulcrumError> {
        let all = contributions.map { $0! }
        let count = all[0].count
        if let bad = all.firstIndex(where: { $0.count != count }) {
            return .failure(.shapeMismatch(argument: "values", expected: "\(count)", actual: "\(all[bad].count) on rank \(bad)"))
        }
        switch all[0] {
        case .int64:
            var sum = [Int64](repeating: 0, count: count)
            for payload in all {
                guard case let .int64(v) = payload else { return .failure(typeMismatch()) }
                for i in 0..<count { sum[i] += v[i] }
            }
            return .success(.int64(sum))
        case .double:
            var sum = [Double](repeating: 0, count: count)
            for payload in all {
                guard case let .double(v) = payload else { return .failure(typeMismatch()) }
                for i in 0..<count { sum[i] += v[i] }
            }
            return .success(.double(sum))
        }
    }
}

/// One rank of an `InProcessCollectiveGroup`.
public struct InProcessCollective: Collective, Sendable {
    let group: InProcessCollectiveGroup
    /// This rank, in `0..<worldSize`.
    public let rank: Int
    /// The ranks of the group.
    public var worldSize: Int { group.worldSize }
    /// Waits for every rank, then replaces `values` by the rank-ordered sum.
    public func allReduceSum(_ values: inout [Int64]) throws { try group.allReduce(rank, &values) }
    /// Waits for every rank, then replaces `values` by the rank-ordered sum (bitwise the same on
    /// every rank).
    public func allReduceSum(_ values: inout [Double]) throws { try group.allReduce(rank, &values) }
}

/// Per-rank result slots filled from the rank threads.
private final class ResultSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, any Error>) { lock.lock(); slots[i] = r; lock.unlock() }
    func values() throws -> [T] { try slots.map { try $0!.get() } }
}
