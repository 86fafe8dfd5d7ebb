import Testing
@testable import FulcrumKernels

@Suite("Row loops")
struct RowLoopsTests {
    /// `updateVectors` over a sub-range with whole vectors and a tail: every element inside gets
    /// its transform (with its own index), the tail's padding lanes are not written back, and the
    /// elements outside the range are untouched.
    func checkUpdate<T: FulcrumFloat>(_: T.Type) {
        let count = 3 * T.vectorWidth + 5
        for (a, b) in [(0, count), (2, count - 1), (T.vectorWidth, T.vectorWidth + 3), (4, 4)] {
            var row = (0..<count).map { T($0) + 0.5 }
            let original = row
            var seen: [Int] = []
            row.withUnsafeMutableBufferPointer { p in
                updateVectors(p.baseAddress!, from: a, to: b) { v, j, lanes in
                    seen.append(contentsOf: j..<(j + lanes))
                    return v * 2 + T.Vector(repeating: T(j))
                }
            }
            #expect(seen == Array(a..<b), "\(T.self) \(a)..<\(b)")
            for i in 0..<count {
                let start = a + (i - a) / T.vectorWidth * T.vectorWidth  // the j of i's vector
                let expected = (a..<b).contains(i) ? original[i] * 2 + T(start) : original[i]
                #expect(row[i] == expected, "\(T.self) \(a)..<\(b) element \(i)")
            }
        }
    }

    @Test("updateVectors, Float and Double") func update() {
        checkUpdate(Float.self)
        checkUpdate(Double.self)
    }
}
