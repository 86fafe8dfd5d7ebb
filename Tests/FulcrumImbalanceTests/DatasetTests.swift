import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("Dataset: grouping rows by class")
struct DatasetTests {
    /// The plain definition: ascending labels, each with its rows in ascending order.
    func reference(_ labels: [Int]) -> (classes: [Int], members: [[Int]]) {
        let classes = Array(Set(labels)).sorted()
        return (classes, classes.map { c in labels.indices.filter { labels[$0] == c } })
    }

    @Test("the counting sort equals the plain grouping",
          arguments: [1, 2, 3, 4, 5, 1003])
    func compactLabels(count: Int) {
        var generator = SplitMix64(seed: UInt64(count))
        // Labels in −2...5 with 1 never drawn, and long runs of one label (the sorted case).
        let drawn = (0..<count).map { _ in [-2, -1, 0, 2, 3, 4, 5][generator.nextIndex(below: 7)] }
        for labels in [drawn, drawn.sorted()] {
            let (classes, members) = groupByClass(labels)
            let expected = reference(labels)
            #expect(classes == expected.classes)
            #expect(members == expected.members)
        }
    }

    @Test("labels too far apart for counting go through a dictionary, same grouping")
    func spreadLabels() {
        let labels = [70000, -5, 70000, 3, -5, 70000, 3]
        let (classes, members) = groupByClass(labels)
        #expect(classes == [-5, 3, 70000])
        #expect(members == [[1, 4], [3, 6], [0, 2, 5]])
        #expect(groupByClass([]).classes.isEmpty)
    }
}
