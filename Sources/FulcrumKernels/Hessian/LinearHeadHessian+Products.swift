// The GEMMs and fused row passes behind the linear-head Hessian products.

extension LinearHeadHessian {
    /// Rows per block of the row passes (fixed, so results do not depend on the thread count).
    static var rowsPerBlock: Int { 32 }

    /// Calls `body` with the operator's workspace grown to at least `count` elements.
    func withWorkspace(count: Int, _ body: (UnsafeMutablePointer<T>) throws -> Void) throws {
        try workspace.withLock { buffer in
            if buffer.count < count { buffer = [T](repeating: 0, count: count) }
            try buffer.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
        }
    }

    /// The features F (N×D) the operator was prepared on.
    public func withFeatures<R>(_ body: (MatrixView<T>) throws -> R) rethrows -> R {
        try featureStorage.withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: samples, columns: featureCount, rowStride: featureCount))
        }
    }

    /// The softmax probabilities P (N×C) at the prepared parameters.
    public func withProbabilities<R>(_ body: (MatrixView<T>) throws -> R) rethrows -> R {
        try probabilityStorage.withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: samples, columns: classes, rowStride: classes))
        }
    }

    /// Z_j ← F·V_jᵀ for each direction row j of `x` into block `firstBlock + j` of `z`.
    func forward(_ x: MatrixView<T>, into z: DirectionBlocks<T>, firstBlock: Int = 0) throws {
        try withFeatures { f in
            for j in 0..<x.rows {
                let v = MatrixView(unchecked: x.row(j), rows: classes, columns: featureCount, rowStride: featureCount)
                try BLAS.gemm(f, v, transposeB: true, into: z.block(firstBlock + j))
            }
        }
    }

    /// W-part of y_j ← R_jᵀ·F for each block j of `r`, and b-part ← `biasSums[j]`.
    func backward(_ r: DirectionBlocks<T>, biasSums: [T], into y: MutableMatrixView<T>) throws {
        let cd = classes * featureCount
        try withFeatures { f in
            for j in 0..<y.rows {
                let rj = MatrixView(r.block(j))
                let out = MutableMatrixView(unchecked: y.row(j), rows: classes, columns: featureCount, rowStride: featureCount)
                try BLAS.gemm(rj, transposeA: true, f, into: out)
                if hasBias {
                    for c in 0..<classes { y.row(j)[cd + c] = biasSums[j * classes + c] }
                }
            }
        }
    }

    /// The workspace of a batch: k contiguous N×C blocks, one per direction, so that every GEMM
    /// sees the same contiguous layout as a single product.
    struct DirectionBlocks<Element> {
        let base: UnsafeMutablePointer<Element>
        let samples: Int, classes: Int
        /// Block j as an N×C matrix.
        func block(_ j: Int) -> MutableMatrixView<Element> {
            MutableMatrixView(unchecked: base + j * samples * classes, rows: samples, columns: classes, rowStride: classes)
        }
        /// Row i of block j.
        func row(_ j: Int, _ i: Int) -> UnsafeMutablePointer<Element> { base + (j * samples + i) * classes }
    }

    /// In place over each block j of `z`: z ← a_n·(p ∘ (z + v_b) − p·(p·(z + v_b))) per row, where
    /// v_b is the bias part of direction j; returns the column sums of the result (k·C values,
    /// empty without a bias). Each row of P is used for all k directions while it is in cache.
    func hessianRows(_ z: DirectionBlocks<T>, directions x: MatrixView<T>, partials: UnsafeMutablePointer<T>) -> [T] {
        let (k, c, cd) = (x.rows, classes, classes * featureCount)
        return probabilityStorage.withUnsafeBufferPointer { p in
            curvatureWeights.withUnsafeBufferPointer { a in
                rowPass(width: k * c, partials: partials) { i, sums in
                    let pi = p.baseAddress! + i * c
                    for j in 0..<k {
                        let bias = hasBias ? x.row(j) + cd : nil
                        hessianRow(pi, z.row(j, i), bias: bias, weight: a[i], count: c, sums: sums.map { $0 + j * c })
                    }
                }
            }
        }
    }

    /// Elements of partial column sums `rowPass` needs for `width` columns.
    func partialCount(width: Int) -> Int {
        hasBias ? (samples + Self.rowsPerBlock - 1) / Self.rowsPerBlock * width : 0
    }

    /// Runs `body(row, sums)` for every row over fixed blocks; `sums` (nil without a bias) points to
    /// the block's `width` partial column sums in `partials` (`partialCount(width:)` elements),
    /// which are returned combined in block order.
    func rowPass(width: Int, partials: UnsafeMutablePointer<T>, _ body: (_ row: Int, _ sums: UnsafeMutablePointer<T>?) -> Void) -> [T] {
        let blockRows = Self.rowsPerBlock
        let blocks = (samples + blockRows - 1) / blockRows
        let slots = UncheckedSendable(hasBias ? partials : nil)
        Threads.forEachBlock(count: samples, blockSize: blockRows) { b, rows in
            let sums = slots.value.map { $0 + b * width }
            sums?.update(repeating: 0, count: width)
            for i in rows { body(i, sums) }
        }
        return hasBias ? combineBlocks(UnsafePointer(partials), blocks: blocks, width: width) : []
    }

    /// One row of one direction: z ← a·p ∘ ((z + v_b) − s), s = p·(z + v_b); sums += result.
    @inline(__always)
    func hessianRow(_ p: UnsafePointer<T>, _ z: UnsafeMutablePointer<T>, bias: UnsafePointer<T>?, weight a: T,
                    count c: Int, sums: UnsafeMutablePointer<T>?) {
        let w = T.vectorWidth
        let full = c - c % w
        if a == 0 {
            z.update(repeating: 0, count: c)
            return
        }
        if let bias {
            var j = 0
            while j < full { z.storeVector(UnsafePointer(z).loadVector(at: j) + bias.loadVector(at: j), at: j); j += w }
            while j < c { z[j] += bias[j]; j += 1 }
        }
        var acc = T.Vector()
        var j = 0
        while j < full { acc = T.multiplyAdd(p.loadVector(at: j), UnsafePointer(z).loadVector(at: j), acc); j += w }
        var s = T.sumOfLanes(acc)
        while j < c { s += p[j] * z[j]; j += 1 }
        let (av, sv) = (T.Vector(repeating: a), T.Vector(repeating: s))
        j = 0
        while j < full {
            let r = av * p.loadVector(at: j) * (UnsafePointer(z).loadVector(at: j) - sv)
            z.storeVector(r, at: j)
            if let sums { sums.storeVector(UnsafePointer(sums).loadVector(at: j) + r, at: j) }
            j += w
        }
        while j < c {
            let r = a * p[j] * (z[j] - s)
            z[j] = r
            sums?[j] += r
            j += 1
        }
    }

    /// Σ over blocks (in block order, in Double) of `width`-wide partial sums.
    func combineBlocks(_ partial: UnsafePointer<T>, blocks: Int, width: Int) -> [T] {
        var total = [Double](repeating: 0, count: width)
        for b in 0..<blocks {
            for j in 0..<width { total[j] += Double(partial[b * width + j]) }
        }
        return total.map { T($0) }
    }
}
