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

    @Test("labels whose spread overflows Int go through a dictionary too, and samplers accept them")
    func overflowingSpread() throws {
        // high − low overflowed to a negative spread, which passed the compact-range test and
        // trapped on high − low + 1.
        for labels in [[0, Int.min, 0], [Int.max, -1, -1]] {
            let (classes, members) = groupByClass(labels)
            let expected = reference(labels)
            #expect(classes == expected.classes)
            #expect(members == expected.members)
        }
        var data = LabelledData.blobs(sizes: [20, 8], columns: 2)
        data.labels = data.labels.map { $0 == 0 ? Int.min : 0 }
        #expect(try data.resample(RandomUnderSampler()).classCounts == [Int.min: 8, 0: 8])
    }

    @Test("a result's features and labels are read-only here: withFeatures relies on their agreeing")
    func resampledIsReadOnly() {
        // Overload resolution sees the key path as writable exactly when the setter is visible.
        func isWritable<Value>(_: KeyPath<Resampled, Value>) -> Bool { false }
        func isWritable<Value>(_: WritableKeyPath<Resampled, Value>) -> Bool { true }
        #expect(!isWritable(\Resampled.features))
        #expect(!isWritable(\Resampled.labels))
        #expect(isWritable(\Resampled.sampleIndices))  // the check itself tells the two apart
    }
}
