//! Messages built at compile time, with numbers in them: a generic network's shape rule
//! that fails for one instantiation says which sizes it was given
//! (`… in `Cnn<H = 3, W = 3>``). Const evaluation can panic with a `&str` argument, not
//! format a number, so the message is assembled byte by byte first.

/// A message of at most [`ConstMessage::CAPACITY`] bytes; what does not fit is cut off.
#[derive(Clone, Copy, Debug)]
pub struct ConstMessage {
    bytes: [u8; Self::CAPACITY],
    len: usize,
}

impl ConstMessage {
    pub const CAPACITY: usize = 512;

    pub const fn new() -> Self {
        ConstMessage {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    /// Appends `text` (cut at a character boundary when it does not fit).
    pub const fn text(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() && self.len < Self::CAPACITY {
            self.bytes[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        // Drop a character cut in two.
        while self.len > 0 && core::str::from_utf8(self.bytes.split_at(self.len).0).is_err() {
            self.len -= 1;
        }
        self
    }

    /// Appends `n` in decimal.
    pub const fn number(self, n: usize) -> Self {
        let mut digits = [0u8; 20];
        let (mut k, mut n) = (digits.len(), n);
        loop {
            k -= 1;
            digits[k] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        match core::str::from_utf8(digits.split_at(k).1) {
            Ok(s) => self.text(s),
            Err(_) => self,
        }
    }

    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => "",
        }
    }
}

impl Default for ConstMessage {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::ConstMessage;

    #[test]
    fn builds_text_and_numbers_at_compile_time() {
        const M: ConstMessage = ConstMessage::new()
            .text("in `Cnn<H = ")
            .number(3)
            .text(", W = ")
            .number(0)
            .text(", N = ")
            .number(usize::MAX)
            .text(">`");
        assert_eq!(
            M.as_str(),
            "in `Cnn<H = 3, W = 0, N = 18446744073709551615>`"
        );
        let long = ConstMessage::new().text(&"é".repeat(400));
        assert_eq!(long.as_str(), "é".repeat(256));
    }
}
