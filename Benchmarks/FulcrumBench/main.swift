import Foundation
import FulcrumKernels

// fulcrum-bench: how close each Fulcrum kernel runs to this machine's limits, measured in one run.

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    let message = "\(error)"
    FileHandle.standardError.write(Data(((message.isEmpty ? "" : "fulcrum-bench: \(message)\n") + BenchOptions.usage + "\n").utf8))
    exit(message.isEmpty ? 0 : 2)
}

do {
    try Threads.setCount(options.threads)
    print("fulcrum-bench\(options.quick ? " --quick" : ""): \(Threads.count) threads, measuring machine limits…")
    let limits = MachineLimits(quick: options.quick)
    print(limits.summary)
    let context = BenchContext(options: options, limits: limits)
    print(Table.header)
    for family in benchFamilies {
        try family(context)
    }
    if let path = options.jsonPath {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(context.rows).write(to: URL(fileURLWithPath: path))
        print("wrote \(context.rows.count) rows to \(path)")
    }
    if context.rows.isEmpty { print("no case matched the filter") }
} catch {
    FileHandle.standardError.write(Data("fulcrum-bench: \(error)\n".utf8))
    exit(1)
}
