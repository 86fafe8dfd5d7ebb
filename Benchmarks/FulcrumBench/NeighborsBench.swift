@_spi(Benchmarking) import FulcrumKernels

/// Family `knn`: exact k = 5 self search (self excluded by index), squared Euclidean.
///
/// Roofline: the distance FLOPs with each unordered pair counted once (`N²·D`, one multiply-add
/// per pair and dimension) at the measured register FMA peak. `vs gemm` is this time over the
/// time an sgemm at the rate measured on a 4096×4096×D product needs for the same FLOPs. The note
/// gives the fraction of time spent in top-k selection (full search minus the distance tiles
/// alone) and the plain Swift brute force, timed on a slice of the queries and scaled to all.
func neighborsBenchmarks(_ context: BenchContext) throws {
    let shapes = context.quick ? [(2000, 32), (4000, 16), (1000, 128)] : [(20000, 32), (100000, 16), (50000, 128)]
    let targets = ["20000x32": "target <= 250 ms", "100000x16": "target <= 3 s", "50000x128": "target <= 3 s"]
    let k = 5
    for (n, d) in shapes {
        let name = "knn self k=5"
        guard context.wants(name) else { continue }
        var random = BenchRandom(seed: UInt64(n * 131 + d))
        let data = random.floats(n * d, -1, 1)
        var indices = [Int](repeating: 0, count: n * k)
        var distances = [Float](repeating: 0, count: n * k)
        try data.withUnsafeBufferPointer { p in
            let points = MatrixView(unchecked: p.baseAddress, rows: n, columns: d, rowStride: d)
            let runs = 3
            let full = try indices.withUnsafeMutableBufferPointer { i in
                try distances.withUnsafeMutableBufferPointer { dd in
                    let iv = MutableMatrixView(unchecked: i.baseAddress, rows: n, columns: k, rowStride: k)
                    let dv = MutableMatrixView(unchecked: dd.baseAddress, rows: n, columns: k, rowStride: k)
                    return try context.median(runs: runs) { try NearestNeighbors.searchSelf(points, k: k, indices: iv, distances: dv) }
                }
            }
            var sink: Float = 0
            let tilesOnly = context.median(runs: runs) { sink += NearestNeighbors._selfDistanceTilesOnly(points) }
            let slice = min(n, context.quick ? 200 : 400)
            let plain = context.median(runs: 1, warmUp: 0) { sink += plainBruteForce(points, queries: slice, k: k) } * Double(n) / Double(slice)
            let flops = Double(n) * Double(n) * Double(d)
            let gemmSeconds = flops / (context.limits.gemmGFLOPs(Float.self, m: 4096, n: 4096, k: d, transposeB: true) * 1e9)
            let selection = max(0, 1 - tilesOnly / full)
            context.report(BenchRow(
                name: name, shape: "\(n)x\(d)", medianMs: full * 1e3, achieved: flops / full * 1e-9, unit: "GFLOP/s",
                rooflineRatio: flops / full * 1e-9 / context.limits.fmaPeakGFLOPs, baselineSpeedup: plain / full,
                gemmRatio: full / gemmSeconds,
                note: "top-k \(Int((selection * 100).rounded()))% of time; plain \(Table.fmt(plain, 1)) s (scaled from \(slice) rows)"
                    + (targets["\(n)x\(d)"].map { "; " + $0 } ?? "") + (sink == 1 ? " " : "")))
        }
    }
}

/// The obviously correct search: every distance in a scalar loop, an insertion-sorted top-k.
func plainBruteForce(_ points: MatrixView<Float>, queries: Int, k: Int) -> Float {
    var checksum: Float = 0
    var best = [(Float, Int)]()
    for i in 0..<queries {
        best.removeAll(keepingCapacity: true)
        for j in 0..<points.rows where j != i {
            var s: Float = 0
            for c in 0..<points.columns { let t = points[i, c] - points[j, c]; s += t * t }
            if best.count < k || s < best[best.count - 1].0 {
                if best.count == k { best.removeLast() }
                var p = best.count
                while p > 0 && best[p - 1].0 > s { p -= 1 }
                best.insert((s, j), at: p)
            }
        }
        checksum += best[0].0
    }
    return checksum
}
