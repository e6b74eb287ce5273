"""Access control as data: the role privilege matrix, modes, and the object-access policy."""
