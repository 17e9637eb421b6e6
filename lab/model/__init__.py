"""Pure descriptions: LBA formats, fio PI options per format, scenarios and what they require, dm stacks, the PI oracle, the guest CPU snapshot protocol. No I/O."""
