/// The library version. A C test checks it against the header's HANDOFF_VERSION.
public enum LibraryVersion {
    public static let string: StaticString = "1.2.0"
}
