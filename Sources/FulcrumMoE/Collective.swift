import FulcrumKernels

/// The one communication step global-batch load balancing needs: an all-reduce (sum) of small
/// arrays over the data-parallel ranks of a training step.
///
/// Fulcrum does not ship a transport. Conform your engine's communicator (MPI, NCCL, Gloo, a
/// parameter server) to this protocol; `SingleProcessCollective` is the one-rank case and
/// `InProcessCollectiveGroup` runs several ranks as threads of one process for tests.
///
/// Contract: every rank calls the same sequence of all-reduces with arrays of the same length;
/// on return each rank holds the element-wise sum over all ranks. Integer sums are exact; a
/// conforming implementation should sum Doubles in a fixed (rank) order so that all ranks see
/// bitwise the same result.
public protocol Collective {
    /// This process's rank, in `0..<worldSize`.
    var rank: Int { get }
    /// The number of ranks.
    var worldSize: Int { get }
    /// Replaces `values` by its element-wise sum over all ranks.
    func allReduceSum(_ values: inout [Int64]) throws
    /// Replaces `values` by its element-wise sum over all ranks.
    func allReduceSum(_ values: inout [Double]) throws
}

/// One rank: every all-reduce returns its input unchanged.
public struct SingleProcessCollective: Collective, Sendable {
    /// The communicator of a process that trains alone.
    public init() {}
    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var worldSize: Int { 1 }
    /// Leaves `values` unchanged: the sum over one rank.
    public func allReduceSum(_ values: inout [Int64]) throws {}
    /// Leaves `values` unchanged: the sum over one rank.
    public func allReduceSum(_ values: inout [Double]) throws {}
}
