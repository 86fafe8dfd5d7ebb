/// Sums over the rows of one call (or one chunk of a fused linear call).
struct RowSums {
    var loss = 0.0
    var zLoss = 0.0
    var correct = 0
    /// The lowest (row, column) holding a non-finite logit, when the policy throws.
    var firstNonFinite: (row: Int, column: Int)?

    /// Adds `other`, which covers later rows.
    mutating func add(_ other: RowSums) {
        loss += other.loss
        zLoss += other.zLoss
        correct += other.correct
        if firstNonFinite == nil { firstNonFinite = other.firstNonFinite }
    }
}

/// Up to four rows' losses waiting for their log1p term (`RowOutcome.logArgument`), which one
/// vector `Double.logOnePlus` evaluates for all four.
struct PendingRowLosses {
    private var rows = SIMD4<Int>()
    private var losses = SIMD4<Double>(), arguments = SIMD4<Double>(), factors = SIMD4<Double>()
    private var count = 0

    /// Holds row `row`'s outcome; returns whether the four lanes are full.
    mutating func append(row: Int, _ outcome: RowOutcome) -> Bool {
        (rows[count], losses[count]) = (row, outcome.loss)
        (arguments[count], factors[count]) = (outcome.logArgument, outcome.logFactor)
        count += 1
        return count == 4
    }

    /// Adds the held rows' losses to `total` in row order, writes them to `rowLosses`, and
    /// empties the buffer.
    mutating func drain<T: FulcrumFloat>(into total: inout Double, rowLosses: UnsafeMutablePointer<T>?) {
        let complete = losses + factors * Double.logOnePlus(arguments)
        for lane in 0..<count {
            total += complete[lane]
            rowLosses?[rows[lane]] = T(complete[lane])
        }
        count = 0
    }
}

extension SoftmaxCrossEntropy {
    /// Calls `body` with the plan and the option pointers, valid for the duration of the call.
    func withPlan<R>(
        classes: Int, gradientScale: Double, hasExclusions: Bool, wantsLogSumExp: Bool,
        _ body: (CrossEntropyPlan<T>, UnsafePointer<T>?, UnsafePointer<T>?) throws -> R
    ) rethrows -> R {
        try withOptionalPointer(classWeights) { weights in
            try withOptionalPointer(classOffsets) { offsets in
                try withOptionalPointer(targetMargins) { margins in
                    let plan = CrossEntropyPlan<T>(
                        classes: classes, weights: weights, smoothing: Double(labelSmoothing),
                        zLossCoefficient: Double(zLossCoefficient), modulation: rowModulation ?? (focalGamma > 0 ? FocalModulation(gamma: Double(focalGamma)) : nil),
                        weightTotal: classWeights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(classes),
                        gradientScale: gradientScale, hasExclusions: hasExclusions,
                        wantsLogSumExp: wantsLogSumExp)
                    return try body(plan, offsets, margins)
                }
            }
        }
    }

    /// Runs the row kernel over every row in fixed blocks, in parallel, and sums the outcomes in
    /// block order.
    func processRows(
        logits: MatrixView<T>, targets: UnsafePointer<Int32>?, output: MutableMatrixView<T>?,
        destination: RowDestination, excludedClasses: MatrixView<UInt8>?, plan: CrossEntropyPlan<T>,
        offsets: UnsafePointer<T>?, margins: UnsafePointer<T>?,
        rowLosses: UnsafeMutablePointer<T>?, rowLogSumExp: UnsafeMutablePointer<T>?
    ) -> RowSums {
        let rows = logits.rows, classes = logits.columns
        guard rows > 0 else { return RowSums() }
        // The exponential pass prefetches a row about 4 KiB ahead (the next row when rows are
        // longer), so that its read from memory overlaps this row's arithmetic: ~30% less CPU time
        // per call at 32768 classes, ~2% at 128. That row must be one this thread runs next, in
        // the same block, so long rows go in blocks of 8.
        let rowBytes = max(1, classes * MemoryLayout<T>.stride)
        let prefetchDistance = max(1, 4096 / rowBytes)
        let rowsPerBlock = max(rowBytes >= 4096 ? 8 : 1, 16_384 / max(1, classes))
        let blocks = (rows + rowsPerBlock - 1) / rowsPerBlock
        let slots = UnsafeMutableBufferPointer<RowSums>.allocate(capacity: blocks)
        slots.initialize(repeating: RowSums())
        defer { slots.deallocate() }
        let plain = logitSoftcap == nil && temperature == 1 && offsets == nil && excludedClasses == nil
        let inverseTemperature = 1 / temperature, softcap = logitSoftcap ?? 0
        let (ignoreIndex, policy) = (self.ignoreIndex, nonFinitePolicy)

        Threads.forEachBlock(count: rows, blockSize: rowsPerBlock) { block, range in
            var sums = RowSums()
            var pending = PendingRowLosses()
            let scratch = classes <= shortRowClasses ? UnsafeMutablePointer<T>.allocate(capacity: classes) : nil
            defer { scratch?.deallocate() }
            for n in range {
                let t = targets.unsafelyUnwrapped[n]
                let y = t == ignoreIndex ? -1 : Int(t)
                let out = output?.row(n)
                if y < 0 && destination != .probabilities {
                    if destination == .gradient { out?.update(repeating: 0, count: classes) }
                    rowLosses?[n] = 0
                    rowLogSumExp?[n] = 0
                    continue
                }
                let margin = y >= 0 ? margins?[y] ?? 0 : 0
                let ahead = n + prefetchDistance
                let upcoming = ahead < range.upperBound ? logits.row(ahead) : nil
                let outcome = plain
                    ? crossEntropyRow(PlainRowScores(logits: logits.row(n), margin: margin),
                                      row: n, target: y, plan: plan, output: out, destination: destination, upcoming: upcoming,
                                      scratch: scratch)
                    : crossEntropyRow(AdjustedRowScores(logits: logits.row(n), margin: margin,
                                                        inverseTemperature: inverseTemperature, softcap: softcap,
                                                        offsets: offsets, excluded: excludedClasses.map { $0.row(n) }),
                                      row: n, target: y, plan: plan, output: out, destination: destination, upcoming: upcoming,
                                      scratch: scratch)
                if let column = outcome.nonFiniteColumn {
                    if policy == .throwError {
                        sums.firstNonFinite = (n, column)
                        break
                    }
                    if destination != .nothing { out?.update(repeating: .nan, count: classes) }
                    rowLosses?[n] = .nan
                    rowLogSumExp?[n] = .nan
                    if y >= 0 { sums.loss += .nan; sums.zLoss += .nan }
                    continue
                }
                rowLogSumExp?[n] = T(outcome.logSumExp)
                if pending.append(row: n, outcome) { pending.drain(into: &sums.loss, rowLosses: rowLosses) }
                sums.zLoss += outcome.zLoss
                if outcome.correct { sums.correct += 1 }
            }
            pending.drain(into: &sums.loss, rowLosses: rowLosses)
            slots[block] = sums
        }
        var total = RowSums()
        for sums in slots { total.add(sums) }
        return total
    }

    /// The public result from the row sums; throws the first non-finite logit under `.throwError`,
    /// and then also a loss that the options took past T (naming them, see `representableLoss`).
    func result(_ sums: RowSums, totals: TargetTotals, scale: Double) throws -> CrossEntropyResult<T> {
        if let bad = sums.firstNonFinite {
            throw FulcrumError.nonFiniteValue(argument: "logits", row: bad.row, column: bad.column)
        }
        // Under `.propagate` a NaN loss is what was asked for.
        let converted: (Double) throws -> T = nonFinitePolicy == .throwError
            ? { try representableLoss($0, as: T.self, parameters: scaleOptions) } : { T($0) }
        return CrossEntropyResult(loss: try converted(sums.loss * scale), zLoss: try converted(sums.zLoss * scale),
                                  correctCount: sums.correct, countedRows: totals.counted, weightSum: T(totals.weightSum))
    }

    /// The options that scale the loss, as named in an overflow error.
    var scaleOptions: String {
        namedOptions([
            ("temperature", temperature != 1), ("logitSoftcap", logitSoftcap != nil), ("classOffsets", classOffsets != nil),
            ("targetMargins", targetMargins != nil), ("classWeights", classWeights != nil), ("zLossCoefficient", zLossCoefficient != 0),
            ("focalGamma", focalGamma != 0), ("rowModulation", rowModulation != nil),
        ])
    }
}

/// Calls `body` with the array's base address, or nil for a nil array.
func withOptionalPointer<T, R>(_ array: [T]?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
}
