"""The Textual admin app: a client of the control socket, plus history decryption after unlock."""
