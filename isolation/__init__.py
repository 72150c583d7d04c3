"""Energy isolation (能量隔离 / 上锁挂牌): points locked out before work, shared by permits, released after."""
