/// Fused linear cross-entropy: the loss of softmax-CE(X·Wᵀ + b) and its gradients with respect to
/// the hidden states X, the classifier W and the bias b, without ever holding the N×V logits.
///
/// Rows go in chunks whose logits fit `chunkByteLimit`; per chunk c:
///
///     L_c = X_c·Wᵀ + b          (sgemm into a reused buffer)
///     G_c = dℓ/dL_c             (the softmax cross-entropy kernel, in place)
///     dX_c = G_c·W,  dW += G_cᵀ·X_c,  db += colsum(G_c)
///
/// so the cost is the three GEMMs (6·N·V·H flops) plus one in-cache pass of the CE kernel, and
/// the extra memory is one chunk buffer. Every option of `crossEntropy` applies; `.mean` divides by
/// the weight sum of the whole batch, not of a chunk. The chunk size depends only on the shapes
/// and the limit, and the CE pass and column sums use fixed blocks, so for a given BLAS thread
/// count the results do not depend on Fulcrum's worker count; the GEMMs are only as reproducible
/// as the BLAS (OpenBLAS's sgemm rounds differently with 1 and with 2 threads).
///
/// Used where the vocabulary is large (language-model heads, extreme classification): the idea of
/// Liger-Kernel's and Apple's "Cut Your Losses" fused linear cross-entropy, on the CPU.
public struct LinearCrossEntropy<T: FulcrumFloat>: Sendable {
    /// The loss applied to the logits.
    public var crossEntropy: SoftmaxCrossEntropy<T>
    /// The most bytes of logits held at once (default 64 MiB); at least one row is always held.
    public var chunkByteLimit: Int

    /// A fused linear cross-entropy with the given loss and chunk limit.
    public init(crossEntropy: SoftmaxCrossEntropy<T> = SoftmaxCrossEntropy(), chunkByteLimit: Int = 64 << 20) {
        self.crossEntropy = crossEntropy
        self.chunkByteLimit = chunkByteLimit
    }

    /// Rows per chunk for a vocabulary of `classes`.
    public func chunkRows(classes: Int) -> Int {
        max(1, chunkByteLimit / max(1, classes * MemoryLayout<T>.stride))
    }

    /// The loss and the gradients dX, dW (and db when `bias` is given).
    ///
    /// - Parameters:
    ///   - hidden: X, N×H.
    ///   - weight: W, V×H (one row per class).
    ///   - bias: b, V values, or nil.
    ///   - targets: N class indices in `0..<V`, or the loss's `ignoreIndex`.
    ///   - hiddenGradient: dX, N×H output.
    ///   - weightGradient: dW, V×H output (overwritten, not accumulated into).
    ///   - biasGradient: db, V outputs; required exactly when `bias` is given.
    ///   - excludedClasses: optional N×V exclusion mask, as in `SoftmaxCrossEntropy`.
    ///   - rowLosses: optional N per-row losses.
    /// - Throws: `FulcrumError` naming the argument for bad shapes, targets or options (before any
    ///   output is written); `nonFiniteValue` for a non-finite logit under `.throwError`, after
    ///   which the outputs are unspecified.
    /// - Complexity: 6·N·V·H flops; extra memory `min(N, chunkRows)·V` elements.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradients(
        hidden: MatrixView<T>, weight: MatrixView<T>, bias: UnsafeBufferPointer<T>? = nil,
        targets: UnsafeBufferPointer<Int32>,
        hiddenGradient: MutableMatrixView<T>, weightGradient: MutableMatrixView<T>,
        biasGradient: UnsafeMutableBufferPointer<T>? = nil,
        excludedClasses: MatrixView<UInt8>? = nil, rowLosses: UnsafeMutableBufferPointer<T>? = nil
    ) throws -> CrossEntropyResult<T> {
        let (n, h, v) = (hidden.rows, hidden.columns, weight.rows)
        try checkShape(weight, rows: v, columns: h, argument: "weight")
        try checkShape(MatrixView(hiddenGradient), rows: n, columns: h, argument: "hiddenGradient")
        try checkShape(MatrixView(weightGradient), rows: v, columns: h, argument: "weightGradient")
        try checkCount(targets.count, n, argument: "targets")
        if let bias { try checkCount(bias.count, v, argument: "bias") }
        if let rowLosses { try checkCount(rowLosses.count, n, argument: "rowLosses") }
        guard (bias == nil) == (biasGradient == nil) else {
            throw FulcrumError.invalidBuffer(argument: "biasGradient", reason: "must be given exactly when bias is given")
        }
        if let biasGradient { try checkCount(biasGradient.count, v, argument: "biasGradient") }
        if let bad = bias?.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "bias", row: bad, column: 0)
        }
        let totals = try crossEntropy.validateTargets(targets, classes: v, excludedClasses: excludedClasses)
        let scale = try crossEntropy.reductionScale(totals)

        weightGradient.fill(with: 0)
        biasGradient.map { $0.update(repeating: 0) }
        guard n > 0, v > 0 else {
            hiddenGradient.fill(with: 0)
            return try crossEntropy.result(RowSums(), totals: totals, scale: scale)
        }
        let rowsPerChunk = min(n, chunkRows(classes: v))
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: rowsPerChunk * v)
        defer { buffer.deallocate() }
        var sums = RowSums()
        try crossEntropy.withPlan(classes: v, gradientScale: scale, hasExclusions: excludedClasses != nil,
                                     wantsLogSumExp: false) { plan, offsets, margins in
            for start in stride(from: 0, to: n, by: rowsPerChunk) {
                let rows = start ..< min(n, start + rowsPerChunk)
                let logits = MutableMatrixView(unchecked: buffer.baseAddress, rows: rows.count, columns: v, rowStride: v)
                let hiddenChunk = hidden.rows(rows)
                if let bias { for i in 0..<rows.count { logits.row(i).update(from: bias.baseAddress!, count: v) } }
                try BLAS.gemm(hiddenChunk, weight, transposeB: true, into: logits, beta: bias == nil ? 0 : 1)
                var chunkSums = crossEntropy.processRows(
                    logits: MatrixView(logits), targets: targets.baseAddress! + start, output: logits, destination: .gradient,
                    excludedClasses: excludedClasses?.rows(rows), plan: plan, offsets: offsets, margins: margins,
                    rowLosses: rowLosses.map { $0.baseAddress! + start }, rowLogSumExp: nil)
                if let bad = chunkSums.firstNonFinite {
                    chunkSums.firstNonFinite = (bad.row + start, bad.column)
                    sums.add(chunkSums)
                    return
                }
                sums.add(chunkSums)
                let gradient = MatrixView(logits)
                try BLAS.gemm(gradient, weight, into: hiddenGradient.rows(rows))
                try BLAS.gemm(gradient, transposeA: true, hiddenChunk, into: weightGradient, beta: 1)
                if let biasGradient { addColumnSums(of: gradient, into: biasGradient) }
            }
        }
        return try crossEntropy.result(sums, totals: totals, scale: scale)
    }
}

/// `sums[j] += Σ_i m[i, j]`, rows added in order (deterministic), columns in parallel blocks.
func addColumnSums<T: FulcrumFloat>(of m: MatrixView<T>, into sums: UnsafeMutableBufferPointer<T>) {
    let out = UncheckedSendable(sums)
    Threads.forEachBlock(count: m.columns, blockSize: 1024) { _, columns in
        let base = out.value.baseAddress!
        for i in 0..<m.rows {
            let row = m.row(i)
            updateVectors(base, from: columns.lowerBound, to: columns.upperBound) { v, j, count in v + row.loadVector(at: j, count: count) }
        }
    }
}
