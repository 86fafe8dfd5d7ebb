/// A point set copied into the layouts the distance micro-kernel reads, after a transform that
/// keeps the Gram-matrix expansion of the distance accurate and finite.
///
/// - `rows`: row-major `paddedCount × depth` copy (the broadcast operand), pad rows zero;
/// - `panels`: column panels of 16 points, each stored `depth × 16` (the vector operand);
/// - `norms`: the per-point additive term of the distance, +∞ for pad points so that every
///   distance to a pad is +∞, which the top-k lists never keep.
///
/// The micro-kernel computes `norms[i] + norms[j] + alpha · ⟨x_i, x_j⟩`:
/// - squared Euclidean: points shifted by the mean of the base set (the expansion
///   ‖q‖² + ‖b‖² − 2⟨q, b⟩ loses digits to cancellation in proportion to the norms, so centring
///   shrinks its error), norms `‖x‖²`, `alpha = −2`;
/// - inner product: norms 0, `alpha = −1` (distance `−⟨q, b⟩`);
/// - cosine: rows normalised to unit length (zero rows stay zero), norms ½, `alpha = −1`
///   (distance `1 − cos`).
/// All three are finally scaled by one power of two (exact) so that the largest magnitude lies
/// in [1, 2): squared norms can neither overflow nor underflow for any finite input.
struct PreparedPoints: ~Copyable {
    let count: Int
    let paddedCount: Int
    let depth: Int
    let rows: UnsafeMutablePointer<Float>?
    let panels: UnsafeMutablePointer<Float>?
    let norms: UnsafeMutablePointer<Float>

    /// Rows are padded to a multiple of this (both 6, the micro-kernel's rows, and 16, its columns).
    static let padding = 48

    init(_ view: MatrixView<Float>, transform: PointTransform, rows wantRows: Bool, panels wantPanels: Bool) {
        count = view.rows
        depth = view.columns
        paddedCount = (count + Self.padding - 1) / Self.padding * Self.padding
        let d = depth
        let rowBuffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, paddedCount * d))
        rowBuffer.initialize(repeating: 0, count: paddedCount * d)
        norms = .allocate(capacity: paddedCount)
        norms.initialize(repeating: .infinity, count: paddedCount)
        let (rowPointer, normPointer) = (UncheckedSendable(rowBuffer), UncheckedSendable(norms))
        Threads.forEachBlock(count: count, blockSize: 1024) { _, range in
            for i in range {
                normPointer.value[i] = transform.apply(view.row(i), into: rowPointer.value + i * d, depth: d)
            }
        }
        if wantPanels {
            let panelBuffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, paddedCount * d))
            let panelPointer = UncheckedSendable(panelBuffer)
            Threads.forEachBlock(count: paddedCount / 16, blockSize: 64) { _, range in
                for p in range {
                    let panel = panelPointer.value + p * d * 16
                    for lane in 0..<16 {
                        let source = rowPointer.value + (p * 16 + lane) * d
                        for c in 0..<d { panel[c * 16 + lane] = source[c] }
                    }
                }
            }
            panels = panelBuffer
        } else {
            panels = nil
        }
        if wantRows {
            rows = rowBuffer
        } else {
            rowBuffer.deallocate()
            rows = nil
        }
    }

    deinit {
        rows?.deallocate()
        panels?.deallocate()
        norms.deallocate()
    }
}

/// The per-metric transform of `PreparedPoints`, fitted once on the base (and query) sets.
struct PointTransform: Sendable {
    let metric: NearestNeighbors.Metric
    /// Subtracted before scaling (squared Euclidean only): the mean of the base set, rounded.
    let shift: [Double]
    /// The power of two every transformed coordinate is multiplied by.
    let scale: Double

    /// `−2` for squared Euclidean, `−1` for the similarity metrics.
    var alpha: Float { metric == .squaredEuclidean ? -2 : -1 }

    init(metric: NearestNeighbors.Metric, base: MatrixView<Float>, queries: MatrixView<Float>?) {
        self.metric = metric
        let d = base.columns
        var shift = [Double](repeating: 0, count: d)
        if metric == .squaredEuclidean, base.rows > 0 {
            // Column sums in row order and column magnitudes, in one pass (per-column
            // accumulators: the loop over a row's columns has no carried dependency).
            var magnitudes = [Double](repeating: 0, count: d)
            shift.withUnsafeMutableBufferPointer { sums in
                magnitudes.withUnsafeMutableBufferPointer { magnitudes in
                    for i in 0..<base.rows {
                        let r = base.row(i)
                        for c in 0..<d {
                            sums[c] += Double(r[c])
                            magnitudes[c] = max(magnitudes[c], abs(Double(r[c])))
                        }
                    }
                }
            }
            let largestInput = magnitudes.max() ?? 0
            // The mean, rounded to a grid of 1/64 of the largest magnitude: centring works as
            // well, and data on a coarse grid (small integers) stays exactly representable, so
            // that its distances and their ties are exact.
            let grid = largestInput > 0 ? Double(sign: .plus, exponent: largestInput.exponent - 6, significand: 1) : 1
            for c in 0..<d { shift[c] = (shift[c] / Double(base.rows) / grid).rounded() * grid }
        }
        self.shift = shift
        var largest = 0.0
        if metric == .cosine {
            largest = base.rows > 0 || (queries?.rows ?? 0) > 0 ? 1 : 0
        } else {
            var magnitudes = [Double](repeating: 0, count: d)
            shift.withUnsafeBufferPointer { shift in
                magnitudes.withUnsafeMutableBufferPointer { magnitudes in
                    for view in [base] + (queries.map { [$0] } ?? []) {
                        for i in 0..<view.rows {
                            let r = view.row(i)
                            for c in 0..<d { magnitudes[c] = max(magnitudes[c], abs(Double(r[c]) - shift[c])) }
                        }
                    }
                }
            }
            largest = magnitudes.max() ?? 0
        }
        scale = largest > 0 ? Double(sign: .plus, exponent: -largest.exponent, significand: 1) : 1
    }

    /// Writes the transformed row and returns its norm term (see `PreparedPoints`).
    func apply(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, depth d: Int) -> Float {
        switch metric {
        case .squaredEuclidean:
            var sum = 0.0
            for c in 0..<d {
                let x = Float((Double(source[c]) - shift[c]) * scale)
                target[c] = x
                sum += Double(x) * Double(x)
            }
            return Float(sum)
        case .innerProduct:
            for c in 0..<d { target[c] = Float(Double(source[c]) * scale) }
            return 0
        case .cosine:
            var sum = 0.0
            for c in 0..<d { sum += Double(source[c]) * Double(source[c]) }
            let inverse = sum > 0 ? 1 / sum.squareRoot() : 0
            for c in 0..<d { target[c] = Float(Double(source[c]) * inverse) }
            return 0.5
        }
    }
}
