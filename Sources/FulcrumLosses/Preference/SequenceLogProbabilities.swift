import FulcrumKernels

/// Per-sequence log-probabilities log π(y|x) = Σ_t m_t·log p(y_t | logits_t) over a vocabulary,
/// and their gradient with respect to the logits, on the fused softmax cross-entropy kernel.
///
/// Layout: `logits` is (B·L)×V, row b·L + i holding token i of sequence b; `targets` holds the
/// B·L next-token ids; the optional `mask` (B·L bytes, nonzero = counted) and the ignore index
/// select the tokens of each response (prompt and padding tokens masked out). A token's
/// log-probability is −CE of its row, computed as −log1p(Σ_{j≠y} e_j / e_y), so log-probabilities
/// near 0 keep their relative accuracy; they are summed per sequence in Double.
///
/// The backward pass writes dL/dlogits_t = u_b·m_t·(onehot(y_t) − softmax(logits_t)) for an
/// upstream u_b = dL/d log π(y_b|x_b) per sequence: the kernel's passes with a per-row modulation
/// (`CrossEntropyRowModulation`) that scales each row by its sequence's upstream; masked tokens
/// get a zero gradient row. Each call reads the logits once and the backward writes the gradient
/// once; a sequence-level loss needs both calls (its upstream depends on every token), so a
/// preference-loss step reads the logits twice and writes the gradient once.
public struct SequenceLogProbabilities<T: FulcrumFloat>: Sendable {
    /// L ≥ 1, tokens per sequence.
    public var sequenceLength: Int
    /// Tokens whose target equals this are masked (PyTorch's `ignore_index`, default −100).
    public var ignoreIndex: Int32

    /// Sequences of `sequenceLength` tokens; validated when called.
    public init(sequenceLength: Int, ignoreIndex: Int32 = -100) {
        self.sequenceLength = sequenceLength
        self.ignoreIndex = ignoreIndex
    }

    /// log π(y_b|x_b) for every sequence b into `logProbabilities` (B values), and the number of
    /// counted tokens of each into `tokenCounts` (optional).
    /// - Throws: `FulcrumError` for L < 1 (`sequenceLength`), rows not a multiple of L (`logits`),
    ///   a wrong-length `targets`, `mask`, `logProbabilities` or `tokenCounts`, an out-of-range
    ///   target, a sequence with no counted token (`mask`), a non-finite logit (`logits`).
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func forward(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, mask: UnsafeBufferPointer<UInt8>? = nil,
        logProbabilities: UnsafeMutableBufferPointer<T>, tokenCounts: UnsafeMutableBufferPointer<Int32>? = nil
    ) throws {
        let sequences = try validate(logits: logits, targets: targets, mask: mask)
        try checkCount(logProbabilities.count, sequences, argument: "logProbabilities")
        if let tokenCounts { try checkCount(tokenCounts.count, sequences, argument: "tokenCounts") }
        let effective = try countedTargets(targets, mask: mask)
        try effective.withUnsafeBufferPointer { t in
            try sums(logits: logits, effectiveTargets: t, logProbabilities: logProbabilities, tokenCounts: tokenCounts)
        }
    }

    /// `forward` on validated arguments and the counted targets (masked tokens at the ignore
    /// index). With `crossEntropyGradient` (N×V), also writes each row's ∂(−log p(y_t))/∂logits
    /// = p_t − onehot(y_t) there (zeros for ignored rows), whose target entry
    /// −Σ_{j≠y} p_j keeps its relative accuracy when p_y is close to 1. `crossEntropyGradient` may
    /// be the logits' own memory (same base and row stride: in place).
    func sums(logits: MatrixView<T>, effectiveTargets: UnsafeBufferPointer<Int32>, crossEntropyGradient: MutableMatrixView<T>? = nil,
              logProbabilities: UnsafeMutableBufferPointer<T>, tokenCounts: UnsafeMutableBufferPointer<Int32>?) throws {
        var nll = [T](repeating: 0, count: logits.rows)
        try nll.withUnsafeMutableBufferPointer { r in
            let kernel = SoftmaxCrossEntropy<T>(ignoreIndex: ignoreIndex, reduction: .none)
            if let crossEntropyGradient, crossEntropyGradient.startsAt(logits) {
                _ = try kernel.lossAndGradient(inPlace: crossEntropyGradient, targets: effectiveTargets, rowLosses: r)
            } else if let crossEntropyGradient {
                _ = try kernel.lossAndGradient(logits: logits, targets: effectiveTargets, gradient: crossEntropyGradient, rowLosses: r)
            } else {
                _ = try kernel.loss(logits: logits, targets: effectiveTargets, rowLosses: r)
            }
        }
        for b in 0..<logProbabilities.count {
            var sum = 0.0
            var count: Int32 = 0
            for i in (b * sequenceLength)..<((b + 1) * sequenceLength) where effectiveTargets[i] != ignoreIndex {
                sum -= Double(nll[i])
                count += 1
            }
            logProbabilities[b] = T(sum)
            tokenCounts?[b] = count
        }
    }

    /// The backward from the rows `sums` wrote into `crossEntropyGradient`: dL/dlogits_t =
    /// −u_b·(p_t − onehot(y_t)), each row scaled in place by −u of its sequence. O(N·V), no
    /// exponential.
    func backward(scaling crossEntropyGradient: MutableMatrixView<T>, upstream: UnsafeBufferPointer<T>) {
        let columns = crossEntropyGradient.columns
        Threads.forEachBlock(count: crossEntropyGradient.rows, blockSize: max(1, 16_384 / max(1, columns))) { _, range in
            for n in range {
                let scale = T.Vector(repeating: -upstream[n / sequenceLength])
                updateVectors(crossEntropyGradient.row(n), from: 0, to: columns) { v, _, _ in v * scale }
            }
        }
    }

    /// dL/dlogits for per-sequence upstream gradients u_b = dL/d log π(y_b|x_b) (B values),
    /// written into `gradient` ((B·L)×V, every element written). Arguments and errors as in
    /// `forward`; `upstream` must hold B finite values.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func backward(
        logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, mask: UnsafeBufferPointer<UInt8>? = nil,
        upstream: UnsafeBufferPointer<T>, gradient: MutableMatrixView<T>
    ) throws {
        let sequences = try validate(logits: logits, targets: targets, mask: mask)
        try checkCount(upstream.count, sequences, argument: "upstream")
        if let bad = upstream.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.invalidParameter(argument: "upstream[\(bad)]", value: "\(upstream[bad])", requirement: "finite")
        }
        let effective = try countedTargets(targets, mask: mask)
        let kernel = SoftmaxCrossEntropy<T>(
            ignoreIndex: ignoreIndex, reduction: .none,
            rowModulation: SequenceUpstream(upstream: upstream.map { Double($0) }, sequenceLength: sequenceLength))
        try effective.withUnsafeBufferPointer { t in
            _ = try kernel.lossAndGradient(logits: logits, targets: t, gradient: gradient)
        }
    }

    /// Checks the layout and returns B.
    func validate(logits: MatrixView<T>, targets: UnsafeBufferPointer<Int32>, mask: UnsafeBufferPointer<UInt8>?) throws -> Int {
        guard sequenceLength >= 1 else {
            throw FulcrumError.invalidParameter(argument: "sequenceLength", value: "\(sequenceLength)", requirement: ">= 1")
        }
        guard logits.rows % sequenceLength == 0 else {
            throw FulcrumError.shapeMismatch(argument: "logits", expected: "a multiple of \(sequenceLength) rows",
                                             actual: "\(logits.rows) rows")
        }
        try checkCount(targets.count, logits.rows, argument: "targets")
        if let mask { try checkCount(mask.count, logits.rows, argument: "mask") }
        return logits.rows / sequenceLength
    }

    /// The targets with masked tokens set to the ignore index; throws for an empty sequence.
    func countedTargets(_ targets: UnsafeBufferPointer<Int32>, mask: UnsafeBufferPointer<UInt8>?) throws -> [Int32] {
        let effective = targets.indices.map { i in mask.map { $0[i] == 0 } == true ? ignoreIndex : targets[i] }
        for b in 0..<(targets.count / sequenceLength) {
            let range = (b * sequenceLength)..<((b + 1) * sequenceLength)
            guard range.contains(where: { effective[$0] != ignoreIndex }) else {
                throw FulcrumError.emptyReduction(argument: mask == nil ? "targets" : "mask",
                                                  reason: "sequence \(b) has no counted token")
            }
        }
        return effective
    }
}

/// ℓ_t = u_b·log p(y_t) for token t of sequence b: F = ∂ℓ/∂CE = −u_b (CE = −log p_y here).
struct SequenceUpstream: CrossEntropyRowModulation {
    let upstream: [Double]
    let sequenceLength: Int

    func modulate(_ row: CrossEntropyRowStatistics) -> CrossEntropyRowModulated {
        let u = upstream[row.row / sequenceLength]
        return CrossEntropyRowModulated(loss: -u * row.negativeLogLikelihood, crossEntropyFactor: -u, logProbabilityFactor: 0)
    }
}
