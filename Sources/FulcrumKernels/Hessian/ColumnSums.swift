/// Σ_i m[i, j] for every column j: rows are summed in fixed blocks of 32 (in parallel), block
/// sums are added in block order in Double, so the result does not depend on the thread count.
func deterministicColumnSums<T: FulcrumFloat>(_ m: MatrixView<T>) -> [T] {
    let blockRows = 32
    let blocks = (m.rows + blockRows - 1) / blockRows
    let width = m.columns
    var partial = [T](repeating: 0, count: blocks * width)
    partial.withUnsafeMutableBufferPointer { p in
        let slots = UncheckedSendable(p.baseAddress!)
        Threads.forEachBlock(count: m.rows, blockSize: blockRows) { b, rows in
            let sums = slots.value + b * width
            for i in rows {
                let r = m.row(i)
                for j in 0..<width { sums[j] += r[j] }
            }
        }
    }
    var total = [Double](repeating: 0, count: width)
    for b in 0..<blocks { for j in 0..<width { total[j] += Double(partial[b * width + j]) } }
    return total.map { T($0) }
}
