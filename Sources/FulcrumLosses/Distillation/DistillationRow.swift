import FulcrumKernels

// One row of the fused distillation kernel: teacher scores a = t/T_t and student scores b = s/T_s
// read together. The row is walked in chunks (`RowChunks`), so that it is read from memory once
// whatever its length:
//
//   per chunk  A  the chunk's two maxima (and the finiteness probe);
//              B  e^{a−m_a}, e^{b−m_b} against the chunk's maxima (kept in the scratch row and
//                 the gradient row; when the reverse KL may be weighed, d too, in a second
//                 scratch row) and the chunk's sums Σe^a, Σe^b, Σe^a·d, Σe^b·d (and, for the
//                 BD-KD balance, Σe^a·(a−m_a), Σe^b·(b−m_b)), d = (a − m_a) − (b − m_b), in T
//                 vectors, recorded in Double;
//   row        the chunk records rescaled to the row's maxima and added in Double: both KLs and
//              both entropies follow without a log per element, and identical rows give d = 0
//              and identical sums, so exactly zero divergences;
//   C          the gradient, written once from the stored exponentials (and differences) and
//              each chunk's constants: no exponential, and two or three operations per vector.
//
// Pass B prefetches both rows two chunks ahead (into the next row after the last chunks), so
// that the memory reads of the next passes A overlap this chunk's exponentials. One chunk ahead
// left the ends of the next pass A waiting on memory (5–10% slower at 16384x1024 on two
// threads); four chunks ahead was slower again.

/// What one row produced (Double).
struct DistillationRowOutcome {
    var forward = 0.0, reverse = 0.0
    /// The row's loss after the balance weights and the T² factor.
    var loss = 0.0
    var isFinite = true
}

/// Forward and reverse KL of one row and, when `gradient` is non-nil, d(loss)/d(student logits)
/// times `gradientScale`; `gradient` may be the student row itself (in place). A row with a
/// non-finite logit returns `isFinite == false` with its gradient row written only in the chunks
/// before the first one holding such a logit.
@inline(__always)
func distillationRow<T: FulcrumFloat>(
    student: UnsafePointer<T>, teacher: UnsafePointer<T>, classes: Int,
    teacherInverseTemperature: T, studentInverseTemperature: T, lossScale: Double,
    balance: DivergenceBalance, gradientScale: Double,
    gradient: UnsafeMutablePointer<T>?, scratch: RowScratch<T>
) -> DistillationRowOutcome {
    let width = T.vectorWidth, zero = T.Vector()
    let (ia, ib) = (T.Vector(repeating: teacherInverseTemperature), T.Vector(repeating: studentInverseTemperature))
    let needsEntropies = balance.needsEntropies
    let storesDifferences = gradient != nil && balance.mayWeighReverse
    let records = scratch.chunkRecords, stored = scratch.values, differences = scratch.otherValues
    var outcome = DistillationRowOutcome()

    // Per chunk: passes A and B. A finiteness probe per input (one on t + s would overflow for
    // huge finite logits and flag a valid row).
    var (probeT, probeS) = (zero, zero)
    var (ma, mb) = (-T.infinity, -T.infinity)
    var start = 0, chunk = 0
    while start < classes {
        let end = min(classes, start + RowChunks.length)
        // The logits' maxima: scaling by an inverse temperature > 0 keeps the order, and
        // rounding is monotonic, so max(t)·(1/T) is exactly max(t·(1/T)).
        var maxT = T.Vector(repeating: -.infinity), maxS = maxT
        forEachVector(T.self, from: start, to: end) { j, count in
            var t = teacher.loadVector(at: j, count: count), s = student.loadVector(at: j, count: count)
            probeT = T.multiplyAdd(t, zero, probeT)  // 0 unless a value is ±∞ or NaN
            probeS = T.multiplyAdd(s, zero, probeS)
            if count < width {
                t = T.keepingLanes(below: count, of: t, fill: -.infinity)
                s = T.keepingLanes(below: count, of: s, fill: -.infinity)
            }
            maxT = T.maximum(t, maxT)
            maxS = T.maximum(s, maxS)
        }
        // A non-finite logit ends the row before pass B writes its chunk: with the gradient over
        // the student logits (in place), the chunk still holds the value the error names.
        guard T.sumOfLanes(probeT + probeS) == 0 else {
            outcome.isFinite = false
            return outcome
        }
        let (ca, cb) = (T.largestLane(maxT) * teacherInverseTemperature, T.largestLane(maxS) * studentInverseTemperature)
        let (negativeA, negativeB) = (T.Vector(repeating: -ca), T.Vector(repeating: -cb))
        var sa = zero, sb = zero, xa = zero, xb = zero, ea = zero, eb = zero
        forEachVector(T.self, from: start, to: end) { j, count in
            // Have the memory system bring in the next chunk (or the next row) while this one computes.
            teacher.prefetch(at: j + 2 * RowChunks.length)
            student.prefetch(at: j + 2 * RowChunks.length)
            gradient?.prefetchForWriting(at: j + 2 * RowChunks.length)
            // a − c_a as t·(1/T) rounded, then − c_a, never fused into one FMA: the chunk's
            // maximum then lands on exactly 0 (with an FMA it is c_a's own rounding error), so a
            // one-class row has p = 1 exactly and both divergences and the gradient exactly 0.
            let a = teacher.loadVector(at: j, count: count) * ia + negativeA
            let b = student.loadVector(at: j, count: count) * ib + negativeB
            var pa = T.exponentialOfShift(a), pb = T.exponentialOfShift(b)
            if count < width {
                pa = T.keepingLanes(below: count, of: pa, fill: 0)
                pb = T.keepingLanes(below: count, of: pb, fill: 0)
            }
            if let gradient {
                stored.storeVector(pa, at: j, count: count)
                gradient.storeVector(pb, at: j, count: count)
            }
            let d = a - b
            if storesDifferences { differences.storeVector(d, at: j, count: count) }
            sa += pa
            sb += pb
            xa = T.multiplyAdd(pa, d, xa)
            xb = T.multiplyAdd(pb, d, xb)
            if needsEntropies {
                ea = T.multiplyAdd(pa, a, ea)
                eb = T.multiplyAdd(pb, b, eb)
            }
        }
        let record = records + RowChunks.recordLength * chunk
        (record[0], record[1]) = (Double(ca), Double(cb))
        (record[2], record[3], record[4]) = (Double(T.sumOfLanes(sa)), Double(T.sumOfLanes(xa)), Double(T.sumOfLanes(ea)))
        (record[5], record[6], record[7]) = (Double(T.sumOfLanes(sb)), Double(T.sumOfLanes(xb)), Double(T.sumOfLanes(eb)))
        ma = max(ma, ca)
        mb = max(mb, cb)
        start = end
        chunk += 1
    }
    // The row: chunk sums at the row's maxima; each record's first two slots become its scales.
    var sa = 0.0, sb = 0.0, xa = 0.0, xb = 0.0, ea = 0.0, eb = 0.0
    for c in 0..<chunk {
        let record = records + RowChunks.recordLength * c
        let (ua, ub) = (record[0] - Double(ma), record[1] - Double(mb))  // ≤ 0
        let (fa, fb) = (Double.exp(ua), Double.exp(ub))
        sa += fa * record[2]
        sb += fb * record[5]
        xa += fa * (record[3] + (ua - ub) * record[2])  // d at the row's maxima = d_c + u_a − u_b
        xb += fb * (record[6] + (ua - ub) * record[5])
        ea += fa * (record[4] + ua * record[2])
        eb += fb * (record[7] + ub * record[5])
        (record[0], record[1], record[2]) = (fa, fb, ua - ub)
    }
    let (logSa, logSb) = (Double.log(sa), Double.log(sb))
    let c = logSa - logSb  // log p_s − log p_t = c − d
    outcome.forward = xa / sa - c
    outcome.reverse = c - xb / sb
    let (wf, wr) = balance.weights(teacherEntropy: logSa - ea / sa, studentEntropy: logSb - eb / sb)
    outcome.loss = lossScale * (wf * outcome.forward + wr * outcome.reverse)

    // Pass C: g = k·[w_f·(p_s − p_t) + w_r·p_s·(log p_s − log p_t − KL_r)], p = e·(chunk scale)/S.
    guard let gradient else { return outcome }
    let k = gradientScale * lossScale * Double(studentInverseTemperature)
    let reader = UnsafePointer(gradient), teacherExponentials = UnsafePointer(stored)
    if wr == 0 {
        for c in 0..<chunk {
            let record = records + RowChunks.recordLength * c
            let (at, bs) = (T.Vector(repeating: T(k * wf * record[0] / sa)), T.Vector(repeating: T(k * wf * record[1] / sb)))
            forEachVector(T.self, from: c * RowChunks.length, to: min(classes, (c + 1) * RowChunks.length)) { j, count in
                let g = reader.loadVector(at: j, count: count) * bs - teacherExponentials.loadVector(at: j, count: count) * at
                gradient.storeVector(g, at: j, count: count)
            }
        }
        return outcome
    }
    // With p_s = e_b·(f_b/S_b), p_t = e_a·(f_a/S_a) and the row's d = d_c + δ_c (δ_c = u_a − u_b,
    // the chunk's maxima against the row's), g = e_b·(P − Q·d_c) − e_a·R per chunk, where
    // P = (f_b/S_b)·k·(w_f + w_r·(c − KL_r − δ_c)), Q = (f_b/S_b)·k·w_r, R = (f_a/S_a)·k·w_f. The
    // two products are rounded alike, so identical rows still give exactly 0.
    let shift = c - outcome.reverse
    for c in 0..<chunk {
        let record = records + RowChunks.recordLength * c
        let (studentScale, teacherScale) = (record[1] / sb, record[0] / sa)
        let p = T.Vector(repeating: T(studentScale * k * (wf + wr * (shift - record[2]))))
        let q = T.Vector(repeating: T(-studentScale * k * wr)), r = T.Vector(repeating: T(teacherScale * k * wf))
        forEachVector(T.self, from: c * RowChunks.length, to: min(classes, (c + 1) * RowChunks.length)) { j, count in
            let inner = T.multiplyAdd(UnsafePointer(differences).loadVector(at: j, count: count), q, p)
            let g = reader.loadVector(at: j, count: count) * inner - teacherExponentials.loadVector(at: j, count: count) * r
            gradient.storeVector(g, at: j, count: count)
        }
    }
    return outcome
}
