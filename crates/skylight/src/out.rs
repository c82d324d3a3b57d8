//! Standard output for commands whose output is often piped (`skylight alerts | head`): a
//! reader that goes away ends the command quietly instead of a panic from `println!`.

use std::io::Write;

/// Writes one line to standard output; when the reader has gone (broken pipe) the process ends
/// with success, as `head` expects of the commands it reads.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// `println!` for piped output: see [`line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
