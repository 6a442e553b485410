import Synchronization

/// A value that belongs to the process that made it. Kamailio and OpenSIPS
/// create clients in the parent and fork workers: in a child, the parent's
/// value (its connections, locks that another thread may have held at
/// fork(), in-flight counts, a half-open breaker) is never used, read or
/// freed; the child's first access makes a new one with `make`.
///
/// The check is one atomic load and a compare, so it sits on the lookup path.
final class PerProcess<Value: AnyObject & Sendable>: @unchecked Sendable {
    // @unchecked: `current` is only replaced by compare-and-exchange, and a
    // box is never freed while another thread can see it (see deinit).
    private final class Box {
        let generation: Int
        let value: Value
        init(_ generation: Int, _ value: Value) {
            self.generation = generation
            self.value = value
        }
    }

    private let current: Atomic<Unmanaged<Box>?>
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
        current = Atomic(Unmanaged.passRetained(Box(ForkGeneration.current, make())))
    }

    /// The owner (a client) is freed only when no other thread uses it, so
    /// its box can go; a parent's box is kept for good instead, because its
    /// deinit would close connections the parent still owns.
    deinit {
        guard let box = current.load(ordering: .acquiring) else { return }
        if box.takeUnretainedValue().generation == ForkGeneration.current {
            box.release()
        } else {
            Abandoned.keep(box.takeUnretainedValue())
            box.release()
        }
    }

    var value: Value { withValue { $0 } }

    /// Runs `body` with this process's value without retaining it: the box
    /// lives as long as its owner, so threads doing lookups do not all write
    /// one reference count.
    func withValue<R>(_ body: (Value) -> R) -> R {
        let generation = ForkGeneration.current
        if let box = current.load(ordering: .acquiring) {
            if let result = box._withUnsafeGuaranteedRef({ $0.generation == generation ? body($0.value) : nil }) {
                return result
            }
        }
        return body(renew(generation))
    }

    private func renew(_ generation: Int) -> Value {
        let fresh = Unmanaged.passRetained(Box(generation, make()))
        var expected = current.load(ordering: .acquiring)
        while true {
            let (exchanged, actual) = current.compareExchange(
                expected: expected, desired: fresh, ordering: .acquiringAndReleasing)
            if exchanged {
                if let old = actual {
                    Abandoned.keep(old.takeUnretainedValue())
                    old.release()
                }
                return fresh.takeUnretainedValue().value
            }
            if let actual, actual.takeUnretainedValue().generation == generation {
                // Another thread of this process renewed it first.
                fresh.release()
                return actual.takeUnretainedValue().value
            }
            expected = actual
        }
    }
}

/// Objects of a parent process that a forked child must never free: held
/// here for the life of the process, so leak checkers see them reachable.
/// Lock-free, so a child that inherited it mid-push cannot block on it.
public enum Abandoned {
    private final class Node: @unchecked Sendable {
        let object: AnyObject
        let next: Unmanaged<Node>?
        init(_ object: AnyObject, next: Unmanaged<Node>?) {
            self.object = object
            self.next = next
        }
    }

    private static let head = Atomic<Unmanaged<Node>?>(nil)

    public static func keep(_ object: AnyObject) {
        var expected = head.load(ordering: .acquiring)
        while true {
            let node = Unmanaged.passRetained(Node(object, next: expected))
            let (exchanged, actual) = head.compareExchange(expected: expected, desired: node, ordering: .acquiringAndReleasing)
            if exchanged { return }
            node.release()
            expected = actual
        }
    }
}
